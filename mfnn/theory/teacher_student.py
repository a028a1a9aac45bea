"""Single-neuron mean-field theory of the erf teacher-student transition (Rubin, Seroussi & Ringel, ICLR 2024,
§3.1, Eq. 13 and App. A.3).

Setting: f(x) = sum_i a_i erf(w_i . x), x ~ N(0, I_d), w ~ N(0, sigma_w^2 / d), <a^2> = sigma_a^2 / N, noise sigma^2,
target y = He1(z) + eps He3(z), z = w* . x. The residual of the posterior mean is sigma^2 t = b He1 + c He3 (Claim I).

Eq. 13, the action of one neuron along its overlap q = w . w* (the other d - 1 directions at their prior |w_perp|^2
= sigma_w^2), per input dimension:

    S(q) / d = q^2 / (2 sigma_w^2) - (2u / pi) r(q) (b - 2c r(q))^2,    r(q) = q^2 / (1 + 2 (sigma_w^2 + q^2)),

    u = n^2 sigma_a^2 / (sigma^4 d N).

(psi(q) . t)^2 = (4/pi) r (b - 2c r)^2 is the squared overlap of erf(w . x) with the residual in the orthonormal
basis {He1, He3 / sqrt 6}: psi_1 = (2/sqrt pi) q (1 + 2|w|^2)^-1/2, psi_3 = -(4/sqrt pi) q^3 (1 + 2|w|^2)^-3/2 / sqrt 6.

The residual closes the loop by GPR in that 2-D basis (App. A.3):

    (b, sqrt6 c) = (I + g d Q)^-1 (1, sqrt6 eps),    Q_ij = <psi_i psi_j>_{p(q) ~ exp(-S(q))},    g = n sigma_a^2 / (sigma^2 d).

`gpr_2d` solves this at finite d by quadrature over q. `gp_phase` is its d -> infinity limit in the GP-like phase
(the reduced form used for sigma^2_c): q is Gaussian around 0 with the variance set by the curvature of S,
<q^2> = (sigma_w^2 / d) / (1 - (2 kappa u / pi) b^2), kappa = 2 sigma_w^2 / (1 + 2 sigma_w^2), so g d Q_11 =
(2 kappa g / pi) / (1 - (2 kappa u / pi) b^2) and g d Q_33 = O(n / d^3) -> 0 (the GP cannot learn the cubic: c = eps):

    b = 1 / (1 + (2 kappa g / pi) / (1 - (2 kappa u / pi) b^2)),    c = eps.

The transition (`critical_point`) is the sigma^2 where the q != 0 minimum of S(q) (the droplet saddle, near q ~ 1 by
Claim IV) drops below S(0) = 0. Both u and g are invariant under the paper's Table 1 scaling (N -> beta N,
d -> sqrt(beta) d, n -> alpha n, sigma^2 -> (alpha / beta) sigma^2, sigma_a^2 -> sigma_a^2 / sqrt(beta)) at alpha = beta,
so sigma^2_c is the same at every scale; d only sets how sharp the finite-size transition is.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, least_squares, minimize_scalar

PAPER_BASE = {"d": 150, "n": 3000, "N": 700, "sigma_a2": 8 / 700, "sigma_w2": 0.5, "eps": -0.3}


def couplings(d: float, n: float, N: float, sigma_a2: float, noise_var: float) -> dict[str, float]:
    """u = n^2 sigma_a^2 / (sigma^4 d N) (§3.1) and g = n sigma_a^2 / (sigma^2 d) (the GP's data-to-prior balance)."""
    return {"u": n**2 * sigma_a2 / (noise_var**2 * d * N), "g": n * sigma_a2 / (noise_var * d)}


def table1_scale(base: dict, beta: float, alpha: float | None = None) -> dict:
    """The paper's Table 1 applied to a setting {d, n, N, sigma_a2, ...}: N -> beta N, d -> sqrt(beta) d,
    n -> alpha n, sigma_a^2 -> sigma_a^2 / sqrt(beta); the noise scales as sigma^2 -> (alpha / beta) sigma^2
    (returned as noise_scale). Unrounded: a network needs integers, see the replication for its rounding."""
    alpha = beta if alpha is None else alpha
    return {**base, "d": base["d"] * math.sqrt(beta), "n": base["n"] * alpha, "N": base["N"] * beta,
            "sigma_a2": base["sigma_a2"] / math.sqrt(beta), "noise_scale": alpha / beta}


def r_of_q(q, sigma_w2: float = 0.5):
    return q**2 / (1 + 2 * (sigma_w2 + q**2))


def action(q, u: float, b: float, c: float, sigma_w2: float = 0.5):
    """Eq. 13 per input dimension, S(q) / d."""
    r = r_of_q(q, sigma_w2)
    return q**2 / (2 * sigma_w2) - (2 * u / math.pi) * r * (b - 2 * c * r) ** 2


def gp_phase(u: float, g: float, eps: float = -0.3, sigma_w2: float = 0.5) -> dict[str, float]:
    """The d -> infinity GP-like self-consistency (module docstring): b in (0, 1 / sqrt(B)) is the unique root
    of b (1 + A / (1 - B b^2)) = 1, A = 2 kappa g / pi, B = 2 kappa u / pi; c = eps. Also returns the
    enhancement of <q^2> over the prior, 1 / (1 - B b^2) (the Gaussian feature-learning widening)."""
    kappa = 2 * sigma_w2 / (1 + 2 * sigma_w2)
    A, B = 2 * kappa * g / math.pi, 2 * kappa * u / math.pi
    top = 1 / math.sqrt(B) if B > 0 else 1.0
    f = lambda b: b * (1 + A / (1 - B * b * b)) - 1  # noqa: E731  -1 at b = 0, -> +inf at b -> top
    b = brentq(f, 0.0, top * (1 - 1e-15), xtol=1e-15) if B > 0 else 1 / (1 + A)
    return {"b": float(b), "c": float(eps), "widening": float(1 / (1 - B * b * b))}


def droplet_saddle(u: float, b: float, c: float, sigma_w2: float = 0.5, q_max: float = 4.0) -> dict:
    """The q > 0 local minimum of S(q) / d (None when S only rises from q = 0), and the barrier before it."""
    q = np.linspace(0.0, q_max, 1201)
    s = action(q, u, b, c, sigma_w2)
    inner = np.nonzero((s[1:-1] < s[:-2]) & (s[1:-1] <= s[2:]))[0] + 1
    if len(inner) == 0:
        return {"q": None, "S_per_d": math.inf, "barrier_per_d": math.nan}
    k = int(inner[np.argmin(s[inner])])
    res = minimize_scalar(lambda x: action(x, u, b, c, sigma_w2), bounds=(q[k - 1], q[k + 1]), method="bounded",
                          options={"xatol": 1e-10})
    return {"q": float(res.x), "S_per_d": float(res.fun), "barrier_per_d": float(s[:k].max())}


def critical_point(base: dict | None = None, eps: float | None = None, grid=None) -> dict:
    """sigma^2_c (and u_c) of a setting {d, n, N, sigma_a2, sigma_w2, eps}: the sigma^2 below which the droplet
    saddle of S (GP-phase b, c = eps) is lower than S(0) = 0. Also the spinodal (where the q != 0 minimum first
    appears, coming from large sigma^2). Returns nan when no such sigma^2 exists on the scanned grid."""
    base = {**PAPER_BASE, **(base or {})}
    eps = base["eps"] if eps is None else eps
    sw = base["sigma_w2"]
    u4 = couplings(base["d"], base["n"], base["N"], base["sigma_a2"], 1.0)  # u sigma^4, g sigma^2

    def depth(s2):  # S / d at the droplet saddle (inf: no saddle)
        gp = gp_phase(u4["u"] / s2**2, u4["g"] / s2, eps, sw)
        return droplet_saddle(u4["u"] / s2**2, gp["b"], gp["c"], sw)["S_per_d"]

    grid = np.geomspace(2.0, 0.02, 60) if grid is None else np.asarray(grid, float)  # large -> small sigma^2
    vals = np.array([depth(s2) for s2 in grid])
    exists = np.isfinite(vals)
    out = {"u_sigma4": u4["u"], "g_sigma2": u4["g"], "eps": eps, "sigma_w2": sw,
           "sigma2_c": math.nan, "u_c": math.nan, "b_c": math.nan, "q_c": math.nan, "spinodal_sigma2": math.nan}
    j = int(np.argmax(exists))
    if exists.any() and j > 0:  # bisect the birth of the saddle between the grid points around it
        hi, lo = grid[j - 1], grid[j]  # no saddle at hi, a saddle at lo
        for _ in range(50):
            mid = 0.5 * (hi + lo)
            hi, lo = (hi, mid) if np.isfinite(depth(mid)) else (mid, lo)
        out["spinodal_sigma2"] = float(lo)
    below = np.nonzero(exists & (vals < 0))[0]
    if len(below) == 0 or below[0] == 0:
        return out
    k = below[0]
    # without a saddle the depth counts as positive: the only sign change in the bracket is then the root
    # (the saddle is born above S(0), at the spinodal, and sinks below it at sigma^2_c)
    signed = lambda s2: min(depth(s2), 1.0)  # noqa: E731
    s2c = brentq(signed, grid[k], grid[k - 1], xtol=1e-12)
    gp = gp_phase(u4["u"] / s2c**2, u4["g"] / s2c, eps, sw)
    sad = droplet_saddle(u4["u"] / s2c**2, gp["b"], gp["c"], sw)
    out.update(sigma2_c=float(s2c), u_c=float(u4["u"] / s2c**2), b_c=gp["b"], q_c=sad["q"],
               barrier_per_d=sad["barrier_per_d"])
    return out


def gpr_2d(u: float, g: float, d: float, eps: float = -0.3, sigma_w2: float = 0.5, q_max: float = 3.0,
           points: int = 6001) -> dict:
    """The App. A.3 self-consistency at finite d: p(q) ~ exp(-S(q)) on a grid, Q_ij = <psi_i psi_j>, and
    t = (b, sqrt6 c) = (I + g d Q(t))^-1 (1, sqrt6 eps), solved by least squares from the GP-phase solution.
    Returns b, c, the rms overlap, the droplet mass (weight of p(q) beyond the barrier of S; 0 without a
    droplet saddle) and whether it converged."""
    q = np.linspace(-q_max, q_max, points)
    w2 = sigma_w2 + q**2
    psi = np.stack([(2 / math.sqrt(math.pi)) * q / np.sqrt(1 + 2 * w2),
                    -(4 / math.sqrt(math.pi)) * q**3 / (1 + 2 * w2) ** 1.5 / math.sqrt(6)])  # (2, Q)
    y = np.array([1.0, math.sqrt(6) * eps])

    def weights(t):
        logp = -d * q**2 / (2 * sigma_w2) + 0.5 * u * d * (t @ psi) ** 2  # -S(q), Eq. 13 with (psi.t)^2
        p = np.exp(logp - logp.max())
        return p / p.sum()

    def residual(t):
        Q = (psi * weights(t)) @ psi.T
        return t - np.linalg.solve(np.eye(2) + g * d * Q, y)

    gp = gp_phase(u, g, eps, sigma_w2)
    sol = least_squares(residual, np.array([gp["b"], math.sqrt(6) * gp["c"]]), xtol=1e-14, ftol=1e-14, gtol=1e-14)
    t = sol.x
    b, c, p = float(t[0]), float(t[1] / math.sqrt(6)), weights(t)
    sad = droplet_saddle(u, b, c, sigma_w2)
    mass = 0.0
    if sad["q"] is not None:
        inside = (q > 0) & (q < sad["q"])
        edge = q[inside][np.argmax(action(q[inside], u, b, c, sigma_w2))]
        mass = float(p[np.abs(q) > edge].sum())
    return {"b": b, "c": c, "converged": bool(np.abs(residual(t)).max() < 1e-8), "droplet_mass": mass,
            "q_rms": float(np.sqrt((p * q**2).sum()))}
