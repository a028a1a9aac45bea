"""The lazy (NTK) prediction of a network: its first-order Taylor expansion around the initial weights, trained by
the same full-batch gradient descent, in closed form.

    f_lin(x; theta) = f(x; theta_0) + J(x) (theta - theta_0),      K(x, x') = J(x) J(x')^T   (empirical NTK)

Gradient descent with step lr on L = mean_mu (f(x_mu) - y_mu)^2 moves the training residual r = f_lin(X) - y by
r <- (I - c K) r with c = 2 lr / n, so after T steps (K = V diag(lam) V^T)

    f_lin,T(x) = f_0(x) - c K(x, X) V diag((1 - (1 - c lam)^T) / (c lam)) V^T r_0.

A network trained lazily ends at f_lin,T; a feature learner does not. As N -> oo the empirical NTK tends to the
analytic one (`infinite_width_gd`), so a lazy net of width N approaches that predictor too (distance O(1/N)). The NTK of an MLPNet is assembled layer by
layer from per-sample backpropagated signals delta_l = df/dz_l and the layer inputs (no (params x samples)
Jacobian is ever stored):  K = s_N^2 H_L H_L'^T + sum_l (Delta_l Delta_l'^T) * (In_l In_l'^T / fan_in + [bias]).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from mfnn.errors import require
from mfnn.theory.kernels import KernelSpec, ntk


def ntk_factors(net, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None, bool]]:
    """Per layer (delta (B, N_out), input (B, fan_in) or None for the readout, has_bias): the two factors whose
    Gram products give that layer's share of the NTK. x: (B, d); net: an MLPNet with one output."""
    with torch.enable_grad():  # callers often sit in no_grad (evaluation code)
        return _ntk_factors(net, x.detach())


def _ntk_factors(net, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None, bool]]:
    zs, ins = [], []
    z = x @ net.W_in.T / math.sqrt(net.input_dim)
    z = z + net.b_in if net.b_in is not None else z
    zs.append(z)
    ins.append(x)
    h = net.act(z)
    for l in range(net.depth - 1):
        ins.append(h)
        z = net.next_preactivation(h, l)
        zs.append(z)
        h = net.act(z)
    f = net.readout_scale * (h @ net.a).sum()  # sum over samples: sample b's output depends on its own z only
    deltas = torch.autograd.grad(f, zs)
    factors = [(dl.detach(), inp.detach(), net.b_in is not None if l == 0 else len(net.b_hidden) > 0)
               for l, (dl, inp) in enumerate(zip(deltas, ins))]
    factors.append((net.readout_scale * h.detach(), None, False))  # df/da = s_N h_L
    return factors


def empirical_ntk(net, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """K(x1, x2) = sum over all parameters of df(x1)/dtheta df(x2)/dtheta, (B1, B2), float64."""
    K = torch.zeros(len(x1), len(x2), dtype=torch.float64)
    for (d1, i1, bias), (d2, i2, _) in zip(ntk_factors(net, x1), ntk_factors(net, x2)):
        d1, d2 = d1.double(), d2.double()
        if i1 is None:  # readout: df/da_i = s_N h_i
            K += d1 @ d2.T
            continue
        inner = i1.double() @ i2.double().T / i1.shape[1] + (1.0 if bias else 0.0)
        K += (d1 @ d2.T) * inner
    return K


@torch.no_grad()
def _outputs(net, x: torch.Tensor) -> torch.Tensor:
    return net(x).reshape(-1).double()


def kernel_gd(K: torch.Tensor, K_eval: torch.Tensor, f0_train: torch.Tensor, f0_eval: torch.Tensor,
              y_train: torch.Tensor, lr: float | Sequence[float], steps: int | None = None) -> dict:
    """Closed-form full-batch GD of a kernel model f = f_0 + K(., X) alpha on the mean squared error.

    K (n, n) and K_eval (m, n) are the tangent kernel on the training points and between evaluation and training
    points; f0_train (n,) and f0_eval (m,) the initial function. lr: one step size for `steps` steps, or a
    schedule (one step size per step, e.g. an annealed lr; then `steps` is its length). Returns {"eval": f_T(x_eval)
    (m,), "train": f_T(X) (n,), "max_step_eigen": c lam_max} (float64), c = 2 lr / n (its largest value)."""
    K, K_eval = K.double(), K_eval.double()
    lam, V = torch.linalg.eigh(K)
    lam = lam.clamp_min(0)
    y = y_train.reshape(-1).double()
    r0 = V.T @ (f0_train.reshape(-1).double() - y)  # the initial residual in K's eigenbasis
    if isinstance(lr, (int, float)):
        c = 2 * lr / len(K)
        decay = (1 - c * lam) ** steps
        gain = torch.where(c * lam > 1e-12, (1 - decay) / lam.clamp_min(1e-300),
                           torch.full_like(lam, c * steps))  # sum_{t<T} c (1 - c lam)^t
        c_max = c
    else:  # residual r_{t+1} = (1 - c_t lam) r_t per mode; the function moves by c_t K r_t
        cs = [2 * float(v) / len(K) for v in lr]
        require(steps is None or steps == len(cs), "steps", f"must be the schedule's length {len(cs)} (got {steps})")
        decay, gain = torch.ones_like(lam), torch.zeros_like(lam)
        for c in cs:
            gain += c * decay
            decay = decay * (1 - c * lam)
        c_max = max(cs)
    return {"eval": f0_eval.reshape(-1).double() - K_eval @ (V @ (gain * r0)),
            "train": y + V @ (decay * r0),
            "max_step_eigen": float(c_max * lam.max())}  # > 2: the linear model's GD diverges along the top mode


def linearized_gd(net0, x_train: torch.Tensor, y_train: torch.Tensor, x_eval: torch.Tensor,
                  lr: float | Sequence[float], steps: int | None = None) -> dict:
    """Predictions on x_eval (and x_train) of net0's linearization after `steps` full-batch GD steps of size lr
    (the effective per-parameter step, i.e. after any width multiplier) on the mean squared error."""
    return kernel_gd(empirical_ntk(net0, x_train, x_train), empirical_ntk(net0, x_eval, x_train),
                     _outputs(net0, x_train), _outputs(net0, x_eval), y_train, lr, steps)


def infinite_width_gd(net0, x_train: torch.Tensor, y_train: torch.Tensor, x_eval: torch.Tensor,
                      lr: float | Sequence[float], steps: int | None = None) -> dict:
    """The same GD with the *analytic* infinite-width NTK of net0's law (mfnn.theory.kernels) in place of its
    empirical one, from net0's own initial function: where a lazy net of this law and this f_0 ends as N -> oo.

    The analytic kernel counts the optimiser's lr multiplier (Theta = lr_scale J J^T in the limit); dividing it
    out gives the limit of `empirical_ntk`, so lr is the same effective step as for `linearized_gd`."""
    spec = KernelSpec.of(net0)
    scale = net0.sgd_lr_scale
    K = ntk(spec, x_train, width=net0.width) / scale
    K_eval = ntk(spec, x_eval, x_train, width=net0.width) / scale
    return kernel_gd(K, K_eval, _outputs(net0, x_train), _outputs(net0, x_eval), y_train, lr, steps)
