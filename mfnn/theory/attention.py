r"""High-dimensional theory of tied low-rank dot-product attention (Cui, Behrens, Krzakala, Zdeborová 2024).

Model (L = 2 tokens, rank r = 1). Tokens x_l = p_l + z_l with z_l ~ N(0, s^2 I_d) (s = sigma),
p_1 = 1_d/sqrt(d) = -p_2. Teacher Q* ~ N(0, I_d); target y = T Z with
    T = (1 - omega) softmax_row(h* h*^T) + omega A,    h*_l = z_l . Q*/sqrt(d).
Student y_hat = S X with S = softmax_row(h h^T), h_l = x_l . Q/sqrt(d). Empirical risk
    R(Q) = sum_mu sum_l ||y_hat_l - y_l||^2 / (2d) + (lam/2)||Q||^2,   n = alpha d samples.

Reduction to 2-d fields. For L = 2 and row-stochastic T the per-sample loss only sees the fields:
    ell(h, h*) = (s^2/2) ||S(h) - T(h*)||_F^2          (+ O(1/d): positions, cross-token terms)
and, writing a = h_1(h_1 - h_2), b = h_2(h_2 - h_1), S = [[sig(a), 1-sig(a)], [1-sig(b), sig(b)]]:
    ell = s^2 [(sig(a) - u_1)^2 + (sig(b) - u_2)^2] + c(T),
    u_1 = (1 + T_11 - T_12)/2, u_2 = (1 + T_22 - T_21)/2   (u = diag T, c = 0 when T is row-stochastic).
Conditioned on Q the fields of a fresh sample are Gaussian,
    h_l = s_l m + sqrt(q) xi_l,   h*_l = (theta/sqrt(q)) xi_l + sqrt(rho - theta^2/q) y_l,
    s = (+1, -1), xi, y ~ N(0, I_2), rho = s^2,
with the overlaps (field covariances, as in the authors' code)
    q = s^2 |Q|^2/d,   theta = s^2 Q.Q*/d,   m = 1_d.Q/d   (the issue's theta is theta/s^2).

Replica-symmetric fixed point (zero temperature, Gaussian covariates with covariance s^2 I):
  prior (closed form), with D = lam + s^2 V_hat:
    V = s^2/D,   m = m_hat/D,   theta = s^4 theta_hat/D,   q = s^2 (s^2 q_hat + m_hat^2 + s^4 theta_hat^2)/D^2;
  channel: the 2-d proximal problem (Moreau envelope), omega_l = s_l m + sqrt(q) xi_l,
    M(omega, h*) = min_x  sum_l (x_l - omega_l)^2/(2V) + ell(x, h*),   f_l = (x*_l - omega_l)/V,
    q_hat     =  alpha E[sum_l f_l^2]
    m_hat     =  alpha E[sum_l s_l f_l]
    theta_hat =  alpha E[sum_l f_l y_l] / sqrt(rho - theta^2/q)
    V_hat     = -alpha E[sum_l f_l xi_l] / sqrt(q) + theta theta_hat / q
  (the last two are the Stein / Price forms of alpha E[d f/d h*] and -alpha E[d f/d omega]; unlike the
  implicit derivative of x* they stay correct where the prox jumps between its two mirror basins).
Summary statistics at the fixed point:
    test error     eps_g = E[ell(h, h*)]                        (no prox; E over the joint fields)
    training loss  e_t   = lim R(Q_hat)/d = alpha E[M] - (V_hat q - q_hat V)/2 + m m_hat + theta theta_hat
                                            - (s^2 q_hat + m_hat^2 + s^4 theta_hat^2)/(2D)
  (the authors' CSV column Phi is -e_t). The global minimiser is the branch with the lower e_t;
  alpha_c is where e_t(semantic) - e_t(positional) changes sign.
Branches: positional (theta = 0 is invariant: T is even in h*) and semantic (m = 0 is invariant when
A is symmetric under swapping the two tokens). The equations have several fixed points of each kind (e.g. at
omega = 0.3, alpha = 2 two positional ones, m = 0.25 and m = 0.11); a branch's value at alpha is the lowest-e_t
fixed point found by continuation in alpha from below and from above, started from the branch's start.
Linear positional baseline y_hat = B Z: the population optimum is B = E[T], so eps_lin = (s^2/2) sum Var(T_ij).

Numerics: product Gauss-Hermite quadrature over (xi_1, xi_2, y_1, y_2) (two 2-d rules), a vectorised
multi-start damped-Newton solver for the 2-d prox (warm-started between iterations), damped fixed-point
iteration (with Anderson mixing), two-way continuation in alpha, brentq for alpha_c.
Quadrature error: the prox minimiser jumps between basins, so f is discontinuous and the conjugates converge
only like ~1/n_gh; near alpha_c at small omega the gap e_t(sem) - e_t(pos) changes by only ~4e-4 per unit alpha,
so alpha_c moves by several 0.01 between 8^4 and 16^4 nodes. critical_alpha_by_resolution follows alpha_c over
resolutions (replications/attention/alpha_c_convergence.py). quadrature="authors" uses the rules of the authors'
notebook instead (quadpy e2r2 schemes of degree 7 and 11, nested over xi and y), to show where their numbers
come from.
Validation (tests/test_attention_theory.py): the prox against a brute-force grid; eps_g against a d = 1000 Monte
Carlo of a student with the fixed point's overlaps; q, theta, m, e_t and eps_g against the authors' published
curves (their CSV column mse is 2 eps_g, Phi is -e_t).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.optimize import brentq
from scipy.special import expit

A_STANDARD = ((0.6, 0.4), (0.4, 0.6))
A_ALT = ((0.3, 0.7), (0.8, 0.2))


@dataclass(frozen=True)
class AttentionSetup:
    sigma: float = 0.5
    lam: float = 0.01
    omega: float = 0.3
    A: tuple = A_STANDARD
    n_gh: int = 12  # Gauss-Hermite points per dimension (4 dimensions)
    # "product": n_gh^4 Gauss-Hermite over (xi_1, xi_2, y_1, y_2); "authors": the nested degree-7 rule (conjugates)
    # and degree-11 rule (training loss) of the authors' notebook
    quadrature: str = "product"

    @property
    def rho(self) -> float:  # variance of a teacher field h*_l
        return self.sigma**2


@dataclass
class FixedPoint:
    alpha: float
    q: float
    m: float
    V: float
    theta: float
    q_hat: float = 0.0
    m_hat: float = 0.0
    V_hat: float = 0.0
    theta_hat: float = 0.0
    test_error: float = float("nan")
    train_loss: float = float("nan")
    train_mse: float = float("nan")  # alpha E[ell(x*, h*)]: the data part of e_t
    converged: bool = False
    n_iter: int = 0
    prox: np.ndarray | None = field(default=None, repr=False)  # warm start for continuation

    def as_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "prox"}


# Starts matching the authors' (q, m, V, theta) initialisations of the two branches.
BRANCH_START = {"positional": (0.02, 0.2, 15.0, 0.0), "semantic": (0.9, 0.0, 15.0, 0.35)}


# ---- quadrature ---------------------------------------------------------------------------------
def gauss_hermite_4d(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (4, k^4) and weights (k^4,) for E over four independent N(0, 1)."""
    x, w = hermegauss(k)
    w = w / math.sqrt(2 * math.pi)
    grids = np.meshgrid(x, x, x, x, indexing="ij")
    weights = np.einsum("a,b,c,d->abcd", w, w, w, w).ravel()
    return np.stack([g.ravel() for g in grids]), weights


def _d4_orbits(a0=(), aa=(), ab=()):
    """Points (2, N) and weights of a fully symmetric 2-d rule from its orbit generators: (w, a) -> (+-a, 0),
    (0, +-a); (w, a) -> (+-a, +-a); (w, a, b) -> (+-a, +-b), (+-b, +-a)."""
    pts, wts = [], []
    for w, a in a0:
        pts += [(a, 0), (-a, 0), (0, a), (0, -a)]
        wts += [w] * 4
    for w, a in aa:
        pts += [(a, a), (a, -a), (-a, a), (-a, -a)]
        wts += [w] * 4
    for w, a, b in ab:
        pts += [(a, b), (a, -b), (-a, b), (-a, -b), (b, a), (b, -a), (-b, a), (-b, -a)]
        wts += [w] * 8
    return np.array(pts, dtype=float).T, np.array(wts, dtype=float)


def stroud_secrest_6() -> tuple[np.ndarray, np.ndarray]:
    """Stroud & Secrest (1963) rule VI for weight exp(-x^2-y^2) on R^2: 12 points, degree 7 (quadpy's
    e2r2.get_good_scheme(7), the rule of the authors' notebook for the conjugates). Weights sum to 1."""
    r5 = math.sqrt(5)
    xi, eta = math.sqrt((9 - 3 * r5) / 8), math.sqrt((9 + 3 * r5) / 8)
    return _d4_orbits(a0=[(1 / 36, math.sqrt(3))], aa=[((5 + 2 * r5) / 45, xi), ((5 - 2 * r5) / 45, eta)])


def rabinowitz_richter_2() -> tuple[np.ndarray, np.ndarray]:
    """Rabinowitz & Richter (1969) rule 2 for weight exp(-x^2-y^2): 28 points, degree 11 (quadpy's
    e2r2.get_good_scheme(11), the authors' rule for the training loss). Weights normalised to sum 1."""
    x, w = _d4_orbits(a0=[(0.8176645817675417e-3, 2.757816396257008), (0.4363323129985824e-1, 1.732050807568877),
                          (0.5373255214498174, 0.6280515301597559)],
                      ab=[(0.363610260832152e-2, 1.224744871391589, 2.121320343559643),
                          (0.9817477042468103e-1, 0.7071067811865475, 1.224744871391589)])
    return x, w / w.sum()


def nested_rule(rule) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (4, N^2) and weights for E over four N(0, 1) from a 2-d rule for exp(-|x|^2) used on (xi_1, xi_2)
    and again on (y_1, y_2), as the authors' notebook nests them (argument sqrt(2) x)."""
    x, w = rule
    x = math.sqrt(2) * x
    n = w.size
    i, j = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    return np.stack([x[0, i], x[1, i], x[0, j], x[1, j]]), w[i] * w[j]


# ---- the 2-d problem ---------------------------------------------------------------------------
def teacher_matrix(hs1, hs2, setup: AttentionSetup):
    """Entries (T11, T12, T21, T22) of T = (1-omega) softmax(h* h*^T) + omega A."""
    A, w = np.asarray(setup.A, dtype=float), setup.omega
    t11 = expit(hs1 * (hs1 - hs2))
    t22 = expit(hs2 * (hs2 - hs1))
    return ((1 - w) * t11 + w * A[0, 0], (1 - w) * (1 - t11) + w * A[0, 1],
            (1 - w) * (1 - t22) + w * A[1, 0], (1 - w) * t22 + w * A[1, 1])


def pair_loss(h1, h2, T, sigma: float):
    """ell = (s^2/2) ||softmax(h h^T) - T||_F^2 for L = 2."""
    sa, sb = expit(h1 * (h1 - h2)), expit(h2 * (h2 - h1))
    t11, t12, t21, t22 = T
    return 0.5 * sigma**2 * ((sa - t11) ** 2 + (1 - sa - t12) ** 2 + (1 - sb - t21) ** 2 + (sb - t22) ** 2)


def _prox_terms(x1, x2, om1, om2, u1, u2, V, s2, hessian=True):
    """Objective (up to c(T)), gradient and Hessian of sum (x-om)^2/(2V) + s2[(sig a - u1)^2 + (sig b - u2)^2]."""
    a, b = x1 * (x1 - x2), x2 * (x2 - x1)
    sa, sb = expit(a), expit(b)
    ra, rb = sa - u1, sb - u2
    F = ((x1 - om1) ** 2 + (x2 - om2) ** 2) / (2 * V) + s2 * (ra**2 + rb**2)
    if not hessian:
        return F
    ga, gb = sa * (1 - sa), sb * (1 - sb)
    da1, da2 = 2 * x1 - x2, -x1  # grad a
    db1, db2 = -x2, 2 * x2 - x1  # grad b
    ca, cb = 2 * s2 * ra * ga, 2 * s2 * rb * gb
    g1 = (x1 - om1) / V + ca * da1 + cb * db1
    g2 = (x2 - om2) / V + ca * da2 + cb * db2
    ka = 2 * s2 * (ga**2 + ra * ga * (1 - 2 * sa))
    kb = 2 * s2 * (gb**2 + rb * gb * (1 - 2 * sb))
    # Hessians of a and b are [[2, -1], [-1, 0]] and [[0, -1], [-1, 2]].
    H11 = 1 / V + ka * da1**2 + kb * db1**2 + 2 * ca
    H12 = ka * da1 * da2 + kb * db1 * db2 - ca - cb
    H22 = 1 / V + ka * da2**2 + kb * db2**2 + 2 * cb
    return F, g1, g2, H11, H12, H22


_STEPS = np.array([1.0, 0.5, 0.2, 0.05, 0.0])


def _newton(x1, x2, om1, om2, u1, u2, V, s2, iters: int, tol: float = 1e-10):
    """Damped Newton (Hessian shifted to be positive, best of a few step sizes) on every node at once.
    Works on the still-moving nodes only (most converge in a few steps). Shapes broadcast to (k, N)."""
    shape = np.broadcast_shapes(x1.shape, om1.shape)
    x1, x2 = np.broadcast_to(x1, shape).ravel().copy(), np.broadcast_to(x2, shape).ravel().copy()
    om1, om2, u1, u2 = (np.broadcast_to(v, shape).ravel() for v in (om1, om2, u1, u2))
    active = np.arange(x1.size)
    for _ in range(iters):
        y1, y2, o1, o2, v1, v2 = x1[active], x2[active], om1[active], om2[active], u1[active], u2[active]
        F, g1, g2, H11, H12, H22 = _prox_terms(y1, y2, o1, o2, v1, v2, V, s2)
        lam_min = 0.5 * (H11 + H22) - np.sqrt(0.25 * (H11 - H22) ** 2 + H12**2)
        shift = np.maximum(0.0, 0.5 / V - lam_min)
        A11, A22 = H11 + shift, H22 + shift
        det = A11 * A22 - H12**2
        p1 = -(A22 * g1 - H12 * g2) / det
        p2 = -(-H12 * g1 + A11 * g2) / det
        norm = np.sqrt(p1**2 + p2**2)
        clip = np.minimum(1.0, 2.0 / np.maximum(norm, 1e-300))  # no jumps longer than 2
        p1, p2 = p1 * clip, p2 * clip
        t = _STEPS[:, None]
        Ft = _prox_terms(y1 + t * p1, y2 + t * p2, o1, o2, v1, v2, V, s2, hessian=False)
        best = _STEPS[np.argmin(Ft, axis=0)]
        x1[active], x2[active] = y1 + best * p1, y2 + best * p2
        moving = best * norm * clip > tol
        active = active[moving]
        if active.size == 0:
            break
    return x1.reshape(shape), x2.reshape(shape)


def prox_starts(om1, om2, u1, u2):
    """Starts (k, N) for the prox: omega itself and the two mirror points +-x_fit where the loss term
    vanishes (x_fit solves a = logit u1, b = logit u2; it exists when logit u1 + logit u2 > 0)."""
    uc1, uc2 = np.clip(u1, 1e-6, 1 - 1e-6), np.clip(u2, 1e-6, 1 - 1e-6)
    la, lb = np.log(uc1 / (1 - uc1)), np.log(uc2 / (1 - uc2))
    delta = np.sqrt(np.maximum(la + lb, 1e-2))  # x1 - x2
    f1, f2 = la / delta, -lb / delta
    return np.stack([om1, f1, -f1]), np.stack([om2, f2, -f2])


def solve_prox(om1, om2, u1, u2, V, s2, warm=None, newton_iters: int = 40):
    """Global minimiser (2, N) of the 2-d proximal problem on each node: damped Newton from the starts of
    `prox_starts` plus `warm` (the previous minimiser, tracking its basin), keeping the lowest objective."""
    X1, X2 = prox_starts(om1, om2, u1, u2)
    if warm is not None:
        X1, X2 = np.concatenate([X1, warm[0][None]]), np.concatenate([X2, warm[1][None]])
    X1, X2 = _newton(X1, X2, om1, om2, u1, u2, V, s2, newton_iters)
    F = _prox_terms(X1, X2, om1, om2, u1, u2, V, s2, hessian=False)
    pick = np.argmin(F, axis=0)
    idx = np.arange(X1.shape[1])
    return np.stack([X1[pick, idx], X2[pick, idx]])


# ---- the solver ---------------------------------------------------------------------------------
QUADRATURES = ("product", "authors")


class AttentionTheory:
    """Fixed-point solver for one (sigma, lam, omega, A) at any sample ratio alpha."""

    @property
    def nodes_and_weights(self):
        return self.nodes, self.weights

    def __init__(self, setup: AttentionSetup = AttentionSetup()):
        if setup.quadrature not in QUADRATURES:
            raise ValueError(f"quadrature must be one of {QUADRATURES} (got {setup.quadrature!r})")
        self.setup = setup
        # product Gauss-Hermite: the smooth integrals (test error, baseline), and the prox ones for "product"
        self.nodes, self.weights = gauss_hermite_4d(setup.n_gh)
        xi1, xi2, y1, y2 = self.nodes
        self.xi1, self.xi2, self.y1, self.y2 = xi1, xi2, y1, y2
        # the authors' notebook: conjugates on the nested degree-7 rule, the training loss on the degree-11 one
        self.prox_rule = nested_rule(stroud_secrest_6()) if setup.quadrature == "authors" else self.nodes_and_weights
        self.loss_rule = nested_rule(rabinowitz_richter_2()) if setup.quadrature == "authors" else None

    # fields of a fresh sample at overlaps (q, m, theta)
    def fields(self, q, m, theta, nodes=None):
        s = self.setup
        xi1, xi2, y1, y2 = self.nodes if nodes is None else nodes
        q = max(q, 1e-12)
        vs = math.sqrt(max(s.rho - theta**2 / q, 1e-12))
        om1, om2 = math.sqrt(q) * xi1 + m, math.sqrt(q) * xi2 - m
        hs1 = theta / math.sqrt(q) * xi1 + vs * y1
        hs2 = theta / math.sqrt(q) * xi2 + vs * y2
        return om1, om2, hs1, hs2, vs

    def prox_nodes(self, q, m, V, theta, rule=None, warm=None):
        """The prox problem solved on a rule's nodes: (om (2, N), hs (2, N), x* (2, N), weights (N,)).
        rule: (nodes (4, N), weights), or None for the setup's rule. `warm`: previous minimisers on its nodes."""
        s = self.setup
        nodes, weights = rule if rule is not None else self.prox_rule
        om1, om2, hs1, hs2, _ = self.fields(q, m, theta, nodes)
        T = teacher_matrix(hs1, hs2, s)
        u1, u2 = 0.5 * (1 + T[0] - T[1]), 0.5 * (1 + T[3] - T[2])
        x = solve_prox(om1, om2, u1, u2, V, s.sigma**2, warm=warm)
        return np.stack([om1, om2]), np.stack([hs1, hs2]), x, weights

    def expect(self, values) -> float:
        return float(self.weights @ values)

    def test_error(self, q, m, theta) -> float:
        om1, om2, hs1, hs2, _ = self.fields(q, m, theta)
        return self.expect(pair_loss(om1, om2, teacher_matrix(hs1, hs2, self.setup), self.setup.sigma))

    def linear_baseline_error(self) -> float:
        """eps_g of y_hat = B Z at the population optimum B = E[T]."""
        s = self.setup
        hs1, hs2 = math.sqrt(s.rho) * self.y1, math.sqrt(s.rho) * self.y2
        T = np.stack(teacher_matrix(hs1, hs2, s))
        var = self.weights @ (T**2).T - (self.weights @ T.T) ** 2
        return float(0.5 * s.sigma**2 * var.sum())

    def _channel(self, alpha, q, m, V, theta, warm=None):
        """Conjugate overlaps from the prox at (q, m, V, theta); also returns E[M] and E[ell(x*)]."""
        s = self.setup
        q = max(q, 1e-12)
        vs = math.sqrt(max(s.rho - theta**2 / q, 1e-12))
        om, hs, x, w = self.prox_nodes(q, m, V, theta, warm=warm)
        # the standard normals behind the fields (for the Stein forms), from the fields themselves
        xi1, xi2 = (om[0] - m) / math.sqrt(q), (om[1] + m) / math.sqrt(q)
        y1, y2 = (hs[0] - theta / math.sqrt(q) * xi1) / vs, (hs[1] - theta / math.sqrt(q) * xi2) / vs
        f1, f2 = (x[0] - om[0]) / V, (x[1] - om[1]) / V
        E = lambda v: float(w @ v)  # noqa: E731
        q_hat = alpha * E(f1**2 + f2**2)
        m_hat = alpha * E(f1 - f2)
        theta_hat = alpha * E(f1 * y1 + f2 * y2) / vs
        V_hat = -alpha * E(f1 * xi1 + f2 * xi2) / math.sqrt(q) + theta * theta_hat / q
        new_warm = x
        if self.loss_rule is not None:  # the training loss on its own rule
            om, hs, x, w = self.prox_nodes(q, m, V, theta, rule=self.loss_rule)
        ell = pair_loss(x[0], x[1], teacher_matrix(hs[0], hs[1], s), s.sigma)
        moreau = ((x[0] - om[0]) ** 2 + (x[1] - om[1]) ** 2) / (2 * V) + ell
        return (q_hat, m_hat, V_hat, theta_hat), float(w @ moreau), float(w @ ell), new_warm

    @staticmethod
    def _pinned(hats, branch: str):
        q_hat, m_hat, V_hat, theta_hat = hats
        return (q_hat, m_hat, V_hat, 0.0) if branch == "positional" else (q_hat, 0.0, V_hat, theta_hat)

    def _prior(self, q_hat, m_hat, V_hat, theta_hat):
        s = self.setup
        s2 = s.sigma**2
        D = s.lam + s2 * V_hat
        return (s2 * (s2 * q_hat + m_hat**2 + s2**2 * theta_hat**2) / D**2, m_hat / D, s2 / D,
                s2**2 * theta_hat / D)

    def solve(self, alpha: float, start=None, branch: str = "semantic", damping: float = 0.5,
              tol: float = 1e-6, max_iter: int = 500, warm=None, anderson: int = 3, pin: bool = False) -> FixedPoint:
        """Fixed point from `start` = (q, m, V, theta) (default: the branch's start): damped iteration with
        Anderson mixing over the last `anderson` steps (0: plain damping). pin: keep the iteration on the branch's
        invariant subspace (theta = 0 positional, m = 0 semantic; a symmetric rule keeps it to rounding anyway)."""
        s = self.setup
        q, m, V, theta = start if start is not None else BRANCH_START[branch]
        if pin:
            theta, m = (0.0, m) if branch == "positional" else (theta, 0.0)
        # Anderson-accelerated damped iteration on x = (q, m, V, theta) in units of the start's scale.
        x = np.array([q, m, V, theta], dtype=float)
        scale = np.abs(x) + np.array([1e-2, 1e-2, 1.0, 1e-2])
        xs, fs = [], []
        converged, it = False, 0
        for it in range(1, max_iter + 1):
            hats, _, _, warm = self._channel(alpha, *x, warm)
            if pin:
                hats = self._pinned(hats, branch)
            f = (np.array(self._prior(*hats)) - x) / scale  # residual of the fixed-point map
            if np.max(np.abs(f)) < tol:
                converged = True
                break
            xs.append(x / scale)
            fs.append(f)
            xs, fs = xs[-anderson - 1:], fs[-anderson - 1:]
            mix = 1 - damping
            step = xs[-1] + mix * f
            if anderson and len(fs) > 1:
                dF = np.diff(np.stack(fs), axis=0).T  # (4, k)
                dX = np.diff(np.stack(xs), axis=0).T
                gamma = np.linalg.lstsq(dF, f, rcond=None)[0]
                step = step - (dX + mix * dF) @ gamma
            x_new = step * scale
            # keep q, V > 0 and |theta| below the Cauchy-Schwarz bound sqrt(rho q)
            x_new[0] = max(x_new[0], 0.1 * x[0])
            x_new[2] = max(x_new[2], 0.1 * x[2])
            bound = 0.999 * math.sqrt(s.rho * x_new[0])
            x_new[3] = float(np.clip(x_new[3], -bound, bound))
            x = x_new
        q, m, V, theta = (float(v) for v in x)
        hats, moreau, ell, warm = self._channel(alpha, q, m, V, theta, warm)
        q_hat, m_hat, V_hat, theta_hat = self._pinned(hats, branch) if pin else hats
        # Q -> -Q (m, theta, their conjugates and the prox all flip sign) is a symmetry: report theta >= 0
        # (m >= 0 when theta = 0) so that curves over alpha do not jump between mirror images.
        if theta < -1e-9 or (abs(theta) <= 1e-9 and m < 0):
            m, theta, m_hat, theta_hat = -m, -theta, -m_hat, -theta_hat
            warm = None if warm is None else -warm
        D = s.lam + s.sigma**2 * V_hat
        train = (alpha * moreau - 0.5 * (V_hat * q - q_hat * V) + m * m_hat + theta * theta_hat
                 - 0.5 * (s.sigma**2 * q_hat + m_hat**2 + s.sigma**4 * theta_hat**2) / D)
        return FixedPoint(alpha, q, m, V, theta, q_hat, m_hat, V_hat, theta_hat,
                          test_error=self.test_error(q, m, theta), train_loss=float(train),
                          train_mse=float(alpha * ell), converged=converged, n_iter=it, prox=warm)

    def sweep(self, alphas, branch: str, **kw) -> list[FixedPoint]:
        """Continuation in alpha (in the given order): each fixed point starts from the previous one."""
        out, start, warm = [], None, None
        for a in alphas:
            fp = self.solve(float(a), start=start, branch=branch, warm=warm, **kw)
            out.append(fp)
            start, warm = (fp.q, fp.m, fp.V, fp.theta), fp.prox
        return out

    def branch(self, alphas, branch: str, **kw) -> list[FixedPoint]:
        """The branch on an increasing grid: continuation upwards and downwards in alpha, keeping at each
        alpha the fixed point with the lower training loss (the equations have several fixed points of each
        kind; the lower one is the branch's minimiser, and one sweep direction alone can miss it)."""
        alphas = np.sort(np.asarray(alphas, dtype=float))
        up = self.sweep(alphas, branch, **kw)
        down = self.sweep(alphas[::-1], branch, **kw)[::-1]
        return [min((u, d), key=lambda f: f.train_loss if f.converged else np.inf) for u, d in zip(up, down)]

    def refine(self, alpha: float, anchors: list[FixedPoint], **kw) -> FixedPoint:
        """Fixed point at `alpha` started from each anchor (same branch, nearby alpha); the lowest loss."""
        fps = [self.solve(alpha, start=(f.q, f.m, f.V, f.theta), warm=f.prox, **kw) for f in anchors]
        return min(fps, key=lambda f: f.train_loss if f.converged else np.inf)

    def critical_alpha(self, lo: float = 0.3, hi: float = 2.5, step: float = 0.1, xtol: float = 2e-3,
                       **kw) -> float:
        """alpha_c where the semantic branch's training loss first crosses below the positional one's.

        Both branches on a grid of spacing `step` (see `branch`); the first sign change (+ to -) of
        e_t(sem) - e_t(pos) is refined with brentq, each solve started from the bracketing grid points.
        Returns nan when no crossing lies in [lo, hi].
        """
        grid = np.arange(lo, hi + 1e-9, step)
        sem, pos = self.branch(grid, "semantic", **kw), self.branch(grid, "positional", **kw)
        gap = np.array([s.train_loss - p.train_loss for s, p in zip(sem, pos)])
        for i in range(1, len(grid)):
            if gap[i - 1] > 0 >= gap[i]:
                def gap_at(x):
                    return (self.refine(x, [sem[i - 1], sem[i]], **kw).train_loss
                            - self.refine(x, [pos[i - 1], pos[i]], **kw).train_loss)
                g_lo, g_hi = gap_at(grid[i - 1]), gap_at(grid[i])
                if not g_lo > 0 >= g_hi:  # refinement moved a branch: fall back to linear interpolation
                    return first_crossing(grid[i - 1:i + 1], gap[i - 1:i + 1])
                return float(brentq(gap_at, grid[i - 1], grid[i], xtol=xtol))
        return float("nan")


def critical_alpha_by_resolution(setups, alpha_ref: float, sem: FixedPoint, pos: FixedPoint, slope: float) -> list[dict]:
    """alpha_c at each quadrature resolution in `setups` (increasing), from the training-loss gap at one alpha:
    alpha_c = alpha_ref - gap(alpha_ref)/slope, with the gap's slope in alpha from a coarser rule (it converges
    much faster than the gap itself). Each branch at each resolution is started from its fixed point at the
    previous one (`sem`, `pos` for the first) and kept on its invariant subspace."""
    out = []
    for setup in setups:
        th = AttentionTheory(setup)
        sem = th.solve(alpha_ref, start=(sem.q, sem.m, sem.V, sem.theta), branch="semantic", pin=True)
        pos = th.solve(alpha_ref, start=(pos.q, pos.m, pos.V, pos.theta), branch="positional", pin=True)
        gap = sem.train_loss - pos.train_loss
        out.append({"n_gh": setup.n_gh, "gap": gap, "alpha_c": alpha_ref - gap / slope, "converged": sem.converged and pos.converged,
                    "semantic": sem.as_dict(), "positional": pos.as_dict()})
    return out


def first_crossing(alphas, gap) -> float:
    """First alpha where `gap` changes sign from + to - (linear interpolation); nan if it never does."""
    a, g = np.asarray(alphas, float), np.asarray(gap, float)
    for i in range(1, len(a)):
        if g[i - 1] > 0 >= g[i]:
            return float(a[i - 1] + (a[i] - a[i - 1]) * g[i - 1] / (g[i - 1] - g[i]))
    return float("nan")
