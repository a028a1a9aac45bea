"""Synthetic order-parameter samples with known answers, for tests and placebos."""
from __future__ import annotations

import numpy as np


def first_order_samples(sizes, g, chains: int, rng: np.random.Generator, g_c: float = 0.0, m0: float = 0.6,
                        width: float = 0.5, dim: int = 2) -> dict[int, np.ndarray]:
    """Two-phase coexistence: each chain is ordered (m = +-m0 + noise) with probability
    1 / (1 + exp((g - g_c) L^dim / 4)), else disordered (m ~ 0 + noise); noise sd = width / sqrt(L^dim).
    The rounding of the jump shrinks like 1/volume, as at a first-order transition. size -> (G, chains, 1)."""
    out = {}
    for L in sizes:
        V = float(L) ** dim
        p = 1.0 / (1.0 + np.exp(np.clip((np.asarray(g)[:, None] - g_c) * V / 4.0, -50, 50)))  # (G, 1)
        ordered = rng.random((len(g), chains)) < p
        sign = rng.choice([-1.0, 1.0], size=(len(g), chains))
        noise = rng.normal(0.0, width / np.sqrt(V), size=(len(g), chains))
        out[L] = (np.where(ordered, sign * m0, 0.0) + noise)[..., None]
    return out
