"""Foreground neurons trained to convergence against a frozen background (the post's protocol).

A two-layer mean-field background f_bg(x) = (1/N) sum_i a_i phi(u(x) . v_i), with v_i = (w_i, b_i) and
u(x) = (x / sqrt(d), 1), trained by MSE with mean-field SGD (lr x N, weight decay wd / N, so each neuron
moves by lr (2 <r grad(a phi)> - wd theta) per step, r = y - f_bg) is at rest when every neuron theta_i is
a stationary point of one and the same single-neuron objective

    V_s(theta) = -2 a <r phi(v . u)> + s a^2 <phi(v . u)^2> + (wd / 2) |theta|^2,    theta = (v, a),

with s = 0: the *test particle*. Its gradient is minus the background neuron's velocity, exactly.
s > 0 adds the neuron's own term: V_s = <(r - s a phi)^2> / s + (wd/2)|theta|^2 + const, i.e. the
single neuron s a phi fitted by least squares to the residual (s = 1/N: at the background's scale;
s = 1: a single-neuron model of the residual). With wd = 0 and s = 0, V is linear in a: it has no
minimum wherever <r phi> != 0 (the neuron's a grows without bound).

`converge` minimises V_s for M neurons at once (they are independent: a separable sum) by damped,
saddle-free Newton steps (Hessian eigenvalues replaced by their absolute values, floored; per-neuron
backtracking line search on V) until every neuron's gradient norm is below `tol`. Expectations <.>
are means over a fixed sample of the data (x_n, r_n); phi = HardTanh, piecewise linear, so the sample
Hessian has no curvature from the kinks (phi'' = 0 almost everywhere) and the line search, not the
Hessian, controls steps that cross them. Gradients and Hessians are hand-written (4 x 4 per neuron for
x in 2-d; tests check them against torch.func).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch


@dataclass
class Converged:
    theta: torch.Tensor  # (M, d + 2): (w, b, a) per neuron
    grad_norm: torch.Tensor  # (M,) final |grad V_s|
    converged: torch.Tensor  # (M,) bool: grad_norm < tol
    iterations: int
    seconds: float
    tol: float

    @property
    def fraction_converged(self) -> float:
        return float(self.converged.double().mean())


def _features(x: torch.Tensor) -> torch.Tensor:
    """u(x) = (x / sqrt(d), 1): (n, d) -> (n, d + 1), so that z = u . v with v = (w, b)."""
    return torch.cat([x / math.sqrt(x.shape[1]), torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)


def objective(theta: torch.Tensor, u: torch.Tensor, r: torch.Tensor, s: float, wd: float) -> torch.Tensor:
    """V_s per neuron: theta (m, D+1) = (v, a), u (n, D), r (n,) -> (m,)."""
    v, a = theta[:, :-1], theta[:, -1]
    phi = (u @ v.T).clamp(-1, 1)  # (n, m) HardTanh
    return -2 * a * (r @ phi) / len(u) + s * a.square() * phi.square().mean(0) + 0.5 * wd * theta.square().sum(1)


def grad_hess(theta: torch.Tensor, u: torch.Tensor, r: torch.Tensor, s: float, wd: float):
    """Exact gradient (m, P) and sample Hessian (m, P, P) of V_s (P = D + 1 parameters per neuron)."""
    n = len(u)
    v, a = theta[:, :-1], theta[:, -1]
    z = u @ v.T  # (n, m)
    phi = z.clamp(-1, 1)
    slope = (phi == z).to(u.dtype)  # phi' (1 inside the linear piece)
    r_phi, phi2 = r @ phi / n, phi.square().mean(0)  # (m,)
    resid = s * a[None] * phi - r[:, None]  # (n, m): s a phi - r
    g_v = 2 * a[:, None] * ((resid * slope).T @ u) / n + wd * v  # (m, D)
    g_a = -2 * r_phi + 2 * s * a * phi2 + wd * a
    # Hessian: vv = 2 s a^2 <phi' u u^T> + wd; va = <(4 s a phi - 2 r) phi' u>; aa = 2 s <phi^2> + wd
    uu = (u[:, :, None] * u[:, None, :]).reshape(n, -1)  # (n, D^2)
    H_vv = 2 * s * a.square()[:, None, None] * (slope.T @ uu).reshape(len(theta), u.shape[1], u.shape[1]) / n
    H_va = ((4 * s * a[None] * phi - 2 * r[:, None]) * slope).T @ u / n  # (m, D)
    P = theta.shape[1]
    H = theta.new_zeros(len(theta), P, P)
    H[:, :-1, :-1] = H_vv
    H[:, :-1, -1] = H[:, -1, :-1] = H_va
    H[:, -1, -1] = 2 * s * phi2
    H = H + wd * torch.eye(P, dtype=theta.dtype, device=theta.device)
    return torch.cat([g_v, g_a[:, None]], 1), H


def newton_direction(g: torch.Tensor, H: torch.Tensor, floor: float) -> torch.Tensor:
    """Saddle-free Newton: -|H|^-1 g with |H| = Q |Lambda| Q^T, |lambda| >= floor (a descent direction)."""
    lam, Q = torch.linalg.eigh(H)
    inv = 1 / lam.abs().clamp_min(floor)
    return -torch.einsum("mij,mj,mkj,mk->mi", Q, inv, Q, g)


@torch.no_grad()
def converge(theta0: torch.Tensor, x: torch.Tensor, r: torch.Tensor, s: float = 0.0, wd: float = 0.0,
             tol: float = 1e-5, max_iter: int = 200, floor: float = 1e-3, max_step: float = 1.0,
             chunk: int = 512) -> Converged:
    """Minimise V_s for every neuron (rows of theta0, (M, d + 2)) on the sample (x (n, d), r (n,)).

    Newton steps are clipped to length `max_step` (a neuron crosses a HardTanh kink at most so far per
    iteration) and halved until V_s decreases (Armijo). Stops when every neuron's |grad| < tol or after
    max_iter iterations; neurons are processed in chunks (memory (n, chunk))."""
    start = time.perf_counter()
    dtype = theta0.dtype  # float32 is ~3x faster on CPU and ample for tol >= 1e-6
    u = _features(x.to(dtype))
    r = r.to(dtype).reshape(-1)
    theta = theta0.clone()
    gnorm = torch.full((len(theta),), float("inf"), dtype=dtype)
    it = 0
    for it in range(1, max_iter + 1):
        active = (gnorm >= tol).nonzero().squeeze(1)
        if len(active) == 0:
            it -= 1
            break
        for idx in active.split(chunk):
            th = theta[idx]
            g, H = grad_hess(th, u, r, s, wd)
            gnorm[idx] = g.norm(dim=1)
            todo = gnorm[idx] >= tol
            step = newton_direction(g, H, floor)
            length = step.norm(dim=1, keepdim=True)
            step = step * (max_step / length.clamp_min(max_step))
            v0 = objective(th, u, r, s, wd)
            t = torch.ones(len(th), 1, dtype=th.dtype)
            accepted = torch.zeros(len(th), dtype=torch.bool)
            for _ in range(30):  # backtracking: halve each neuron's step until its V decreases
                cand = th + t * step
                ok = objective(cand, u, r, s, wd) <= v0 + 1e-4 * t.squeeze(1) * (g * step).sum(1)
                newly = ok & ~accepted
                th = torch.where((newly & todo)[:, None], cand, th)
                accepted |= ok
                if bool(accepted.all()):
                    break
                t = torch.where(accepted[:, None], t, t / 2)
            theta[idx] = th
    gnorm = torch.cat([grad_hess(theta[i], u, r, s, wd)[0].norm(dim=1) for i in torch.arange(len(theta)).split(chunk)])
    return Converged(theta, gnorm, gnorm < tol, it, time.perf_counter() - start, tol)


def gradient_norms(theta: torch.Tensor, x: torch.Tensor, r: torch.Tensor, s: float = 0.0, wd: float = 0.0,
                   chunk: int = 512) -> torch.Tensor:
    """|grad V_s| at each row of theta (M, d + 2): for the background's own neurons, how far the
    background is from rest (0 at a mean-field fixed point, for s = 0)."""
    u, r = _features(x.to(theta.dtype)), r.to(theta.dtype).reshape(-1)
    return torch.cat([grad_hess(theta[i], u, r, s, wd)[0].norm(dim=1) for i in torch.arange(len(theta)).split(chunk)])
