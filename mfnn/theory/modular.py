"""Mean-field theory of the quadratic modular-addition network (Rubin, Seroussi & Ringel, ICLR 2024, §3.2, App. B).

The network f_p(x_nm) = sum_i a_pi (w_in + v_im)^2 with w_i ~ N(0, 1), a ~ N(0, sigma_a^2 / N) and noise
sigma^2 has a per-neuron action that decouples over Fourier modes k (normalised w_k = P^-1 sum_n w_n e^{2 pi i kn/P},
Phi = |w_k|^2, Psi = |v_k|^2). Along Phi = Psi, with the quartic coupling c = u a^2, u = 2 sigma_a^2 P^2 / (N sigma^4),
and the sextic Fourier-space potential Gamma = P (gamma/6) sum_k (|w_k|^6 + |v_k|^6), the scaled action per mode is

    S_hat(Phi) = Phi - c Phi^2 + (gamma/3) Phi^3,      saddles Phi_pm = (c +- sqrt(c^2 - gamma)) / gamma.

Each mode is either at Phi = 0 (GP-like) or at Phi_+ (a Fourier neuron), with the two-delta weights of Eqs. 41-42,
which fixes the target eigenvalue lambda of the kernel and the discrepancy a = -sigma^2 / (lambda(a) + sigma^2).

Three forms of the single-mode average (`form`):
  "paper"   the paper's (sheet's) normalisation, as printed: weight 4 e^{-P S_hat(Phi_+)}, lambda = sigma_a^2 <Phi Psi>.
            Reproduces the paper's Fig. 3 thresholds (sigma^2 ~ 0.175, a ~ -0.7).
  "network" the same two-delta ansatz worked out for the network above (each k pairs with -k, so the exponent is
            2P S_hat and the Gaussian widths of both saddles give the prefactor pi P / sqrt(gamma^2 Phi_+^2 - c^2));
            lambda = 4 sigma_a^2 P^2 <Phi Psi> (the target eigenvalue of Q_{mu nu} = sigma_a^2 <phi_mu phi_nu>), whose
            GP value is 4 sigma_a^2 (Eq. 21). This is what a Langevin-sampled network is compared with.
  "exact"   the network's single-mode average by 2-D quadrature of exp(-S(Phi, Psi)) (no saddle-point step):
            mean-field theory exact at this P, as N -> infinity at fixed u.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

FORMS = ("paper", "network", "exact")


def coupling(P: int, N: float, sigma_a2: float, noise_var: float) -> float:
    """u = 2 sigma_a^2 P^2 / (N sigma^4) (§3.2); invariant under the Table 1 scaling."""
    return 2.0 * sigma_a2 * P**2 / (N * noise_var**2)


def mode_action(phi, c: float, gamma: float):
    """Scaled per-mode action along Phi = Psi (sheet §4 [D], from Eq. 16 + Gamma)."""
    phi = np.asarray(phi, dtype=float)
    return phi - c * phi**2 + gamma / 3.0 * phi**3


def saddles(c: float, gamma: float) -> tuple[float, float]:
    """(Phi_-, Phi_+), the barrier and the non-trivial minimum (App. B.4); nan when c < sqrt(gamma)."""
    disc = c * c - gamma
    if disc < 0:
        return math.nan, math.nan
    root = math.sqrt(disc)
    return (c - root) / gamma, (c + root) / gamma


def critical_coupling(gamma: float) -> float:
    """c* = 2 sqrt(gamma/3): the Phi_+ minimum is degenerate with Phi = 0 (as P -> infinity)."""
    return 2.0 * math.sqrt(gamma / 3.0)


def phi_star(gamma: float) -> float:
    """Phi_+ at c = c*: sqrt(3 / gamma)."""
    return math.sqrt(3.0 / gamma)


@dataclass(frozen=True)
class ModularMeanField:
    """The single-neuron theory at one (P, N, sigma_a^2, gamma). `form` as in the module docstring."""

    P: int
    N: float
    sigma_a2: float
    gamma: float
    form: str = "paper"
    grid: int = 700  # quadrature points per axis for form="exact"

    def __post_init__(self):
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS} (got {self.form!r})")
        if min(self.P, self.N, self.sigma_a2, self.gamma) <= 0:
            raise ValueError("P, N, sigma_a2 and gamma must be positive")

    # ---- per-mode statistics at coupling c ------------------------------------------------------
    @property
    def exponent_scale(self) -> float:
        """The factor multiplying S_hat in the mode's weight: P (paper, one mode) or 2P (k and -k together)."""
        return self.P if self.form == "paper" else 2.0 * self.P

    @property
    def eigen_scale(self) -> float:
        """lambda = eigen_scale * <Phi Psi>."""
        return self.sigma_a2 if self.form == "paper" else 4.0 * self.sigma_a2 * self.P**2

    @property
    def gp_moment(self) -> float:
        """<Phi Psi> at the Phi = 0 saddle: dropped in the paper (O(1/P) fluctuations), 1/P^2 in the network."""
        return 0.0 if self.form == "paper" else 1.0 / self.P**2

    def saddle_action(self, c: float) -> float:
        """S(Phi_+) - S(0) in the mode's own units (exponent_scale * S_hat(Phi_+)); +inf without a saddle."""
        _, plus = saddles(c, self.gamma)
        return math.inf if math.isnan(plus) else self.exponent_scale * float(mode_action(plus, c, self.gamma))

    def on_weight(self, c: float) -> float:
        """Weight of the Phi_+ saddle relative to the Phi = 0 one (two-delta forms)."""
        _, plus = saddles(c, self.gamma)
        if math.isnan(plus):
            return 0.0
        S = self.saddle_action(c)
        if self.form == "paper":
            log_w = math.log(4.0) - S  # Eqs. 41-42
        else:
            # Laplace widths: zero saddle integral 1/P^2; Phi_+ saddle e^{-S} 2 pi / sqrt(det H),
            # det H = 4 P^2 (gamma^2 Phi_+^2 - c^2) for S(Phi, Psi) = P(Phi + Psi) - 2 P c Phi Psi + (P gamma/3)(Phi^3 + Psi^3).
            det = self.gamma**2 * plus**2 - c * c
            log_w = math.log(math.pi * self.P) - 0.5 * math.log(max(det, 1e-300)) - S
        return math.exp(min(log_w, 700.0))

    def _quadrature(self, c: float, phi_cut: float | None = None) -> tuple[float, float]:
        """<Phi Psi> and P(Phi > cut, Psi > cut) under exp(-S(Phi, Psi)) on [0, L]^2 (form="exact")."""
        P, g = self.P, self.gamma
        _, plus = saddles(c, g)
        # the weight dies as exp(-2P gamma Phi^3 / 3) beyond the saddles; L covers both saddles with margin
        L = max(40.0 / P, 1.5 * (plus if not math.isnan(plus) else 0.0), (60.0 / (P * g)) ** (1 / 3))
        # fine near 0 (the GP saddle has width 1/P) and uniform up to L; trapezoid weights on the union
        x = np.union1d(np.linspace(0.0, min(L, 30.0 / P), self.grid // 2), np.linspace(0.0, L, self.grid - self.grid // 2))
        gaps = np.diff(x)
        wq = np.concatenate([[gaps[0]], gaps[1:] + gaps[:-1], [gaps[-1]]]) / 2
        X, Y = x[:, None], x[None, :]
        logp = -(P * (X + Y) - 2 * P * c * X * Y + P * g / 3 * (X**3 + Y**3))
        logp = logp + np.log(wq)[:, None] + np.log(wq)[None, :]
        logp -= logp.max()
        p = np.exp(logp)
        p /= p.sum()
        moment = float((p * X * Y).sum())
        cut = phi_star(g) / 2 if phi_cut is None else phi_cut
        on = float(p[(x > cut)][:, x > cut].sum())
        return moment, on

    def mode_moment(self, c: float) -> tuple[float, float]:
        """(<Phi Psi>, probability that the mode is a Fourier neuron) at coupling c."""
        if self.form == "exact":
            return self._quadrature(c)
        _, plus = saddles(c, self.gamma)
        w = self.on_weight(c)
        p_on = w / (1.0 + w) if w < math.inf else 1.0
        return ((1 - p_on) * self.gp_moment + (p_on * plus**2 if p_on > 0 else 0.0)), p_on

    def eigenvalue(self, c: float) -> float:
        """lambda = (sigma_a^2 or 4 sigma_a^2 P^2) <|w_k|^2 |v_k|^2> (App. B.3)."""
        return self.eigen_scale * self.mode_moment(c)[0]

    # ---- self-consistency -----------------------------------------------------------------------
    def solve(self, noise_var: float) -> dict:
        """a = -sigma^2 / (lambda(u a^2) + sigma^2) (Eq. 38). |a| - sigma^2/(lambda + sigma^2) increases in |a|
        (a larger |a| can only raise lambda), so the root on (0, 1] is unique."""
        u = coupling(self.P, self.N, self.sigma_a2, noise_var)

        def residual(m: float) -> float:
            return m - noise_var / (self.eigenvalue(u * m * m) + noise_var)

        m = 1.0 if residual(1.0) <= 0 else brentq(residual, 1e-12, 1.0, xtol=1e-12, rtol=1e-10)
        c = u * m * m
        moment, p_on = self.mode_moment(c)
        minus, plus = saddles(c, self.gamma)
        return {"sigma2": float(noise_var), "a": -m, "u": u, "c": c, "lambda": self.eigen_scale * moment,
                "p_on": p_on, "phi_plus": plus, "phi_minus": minus, "saddle_action": self.saddle_action(c)}

    def sweep(self, noise_vars) -> list[dict]:
        return [self.solve(float(s)) for s in noise_vars]

    # ---- closed forms as P -> infinity ------------------------------------------------------------
    def thresholds(self) -> dict:
        """In the mixed phase c stays at c*, so |a| = sigma^2 / A with A = sqrt(2 sigma_a^2 P^2 / (N c*)) and
        lambda = A - sigma^2; the phase runs from lambda = lambda_GP (GMFL-I onset) to lambda = lambda_on
        (every mode at Phi*, GMFL-II onset)."""
        cs, ps = critical_coupling(self.gamma), phi_star(self.gamma)
        A = math.sqrt(2 * self.sigma_a2 * self.P**2 / (self.N * cs))
        lam_gp, lam_on = self.eigen_scale * self.gp_moment, self.eigen_scale * ps**2
        s1, s2 = A - lam_gp, A - lam_on
        return {"c_star": cs, "phi_star": ps, "A": A, "lambda_gp": lam_gp, "lambda_on": lam_on,
                "sigma2_I": s1, "sigma2_II": s2, "a_end": -s2 / A if s2 > 0 else math.nan,
                "u_I": cs / (s1 / (s1 + lam_gp)) ** 2 if s1 > 0 else math.nan,
                "u_II": cs / (s2 / A) ** 2 if s2 > 0 else math.nan,
                "spinodal_c": math.sqrt(self.gamma)}

    def scaled(self, beta: float) -> "ModularMeanField":
        """Table 1: N -> beta^2 N, P -> sqrt(beta) P, sigma_a^2 -> sigma_a^2 / beta (and sigma^2 -> sigma^2 / beta).
        P is kept real-valued here: the theory only needs it as a number."""
        return ModularMeanField(P=self.P * math.sqrt(beta), N=self.N * beta**2, sigma_a2=self.sigma_a2 / beta,
                                gamma=self.gamma, form=self.form, grid=self.grid)


def crossing(x, y, level: float) -> float:
    """Largest x at which y (sampled on increasing x) crosses `level`, by linear interpolation; nan if never."""
    x, y = np.asarray(x, float), np.asarray(y, float) - level
    idx = np.nonzero(np.sign(y[:-1]) * np.sign(y[1:]) <= 0)[0]
    idx = [i for i in idx if y[i] != y[i + 1]]
    if not idx:
        return math.nan
    i = idx[-1]
    return float(x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))


def network_design(P: int, N: int, gamma: float, lambda_on_over_A: float = 0.25) -> dict:
    """Sizes for a Langevin-sampled network that straddles the transition (network normalisation, P -> infinity forms):
    gamma fixes the per-mode barrier at the transition, B = S(Phi_-) - S(0) = P / (2 c*) = P / (4 sqrt(gamma/3));
    sigma_a^2 is chosen so that the all-Fourier eigenvalue lambda_on = 4 sigma_a^2 P^2 Phi*^2 = 64 sigma_a^2 B^2 is
    `lambda_on_over_A` times the transition scale A = sqrt(2 sigma_a^2 P^2 / (N c*)) (the paper's Fig. 3 has
    0.06 / 0.236 = 0.254). Then sigma^2_I ~ A and sigma^2_II ~ (1 - lambda_on_over_A) A."""
    c_star = critical_coupling(gamma)
    B = P / (2 * c_star)
    r = lambda_on_over_A
    # A^2 = 2 sigma_a^2 P^2 / (N c*) = 4 sigma_a^2 P B / N and sigma_a^2 = r A / (64 B^2)  =>  A = r P / (16 B N)
    A = r * P / (16 * B * N)
    sigma_a2 = r * A / (64 * B * B)
    return {"P": P, "N": N, "gamma": gamma, "barrier": B, "A": A, "sigma_a2": sigma_a2, "lambda_on_over_A": r}
