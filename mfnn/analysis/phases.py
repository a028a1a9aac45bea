"""Reading phase boundaries off training curves: first crossings, critical train fraction, and the
three phases of Nanda et al. (memorisation, circuit formation, cleanup)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from mfnn.phases.threshold import success_threshold


def first_step_at_least(steps: Sequence[int], values: Sequence[float], threshold: float) -> float:
    """The first step whose value is >= threshold (nan if never)."""
    for s, v in zip(steps, values):
        if v >= threshold:
            return float(s)
    return math.nan


def first_step_at_most(steps: Sequence[int], values: Sequence[float], threshold: float) -> float:
    return first_step_at_least(steps, [-v for v in values], -threshold)


def critical_fraction(fractions: Sequence[float], accuracy: Sequence[float], threshold: float = 0.99) -> float:
    """Smallest train fraction from which every larger fraction reaches `threshold` accuracy, taken
    half-way to the largest fraction below it that fails (nan if even the largest fails)."""
    pairs = sorted(zip(fractions, accuracy))
    crit = math.nan
    for i in range(len(pairs) - 1, -1, -1):
        if pairs[i][1] < threshold:
            break
        crit = pairs[i][0] if i == 0 else 0.5 * (pairs[i][0] + pairs[i - 1][0])
    return crit


def critical_fraction_threshold(fractions: Sequence[float], accuracy: Sequence[float], threshold: float = 0.99,
                                n_boot: int = 500, seed: int = 0) -> dict:
    """The critical train fraction across seeds: one run per (fraction, seed), a success when its accuracy reaches
    `threshold`; the fraction where the success probability crosses 1/2, with its error bar
    (mfnn.phases.threshold.success_threshold on a linear axis: a bootstrap over seeds, and the grid's
    resolution when every seed jumps between the same two fractions)."""
    grid = sorted(set(fractions))
    outcomes = [[acc >= threshold for f, acc in zip(fractions, accuracy) if f == g] for g in grid]
    return success_threshold(grid, outcomes, log=False, n_boot=n_boot, rng=np.random.default_rng(seed))


def nanda_phases(steps: Sequence[int], train_acc: Sequence[float], test_acc: Sequence[float],
                 gini: Sequence[float]) -> dict[str, float]:
    """Phase boundaries from measured curves (our operational definitions of Nanda et al.'s phases):
    memorisation ends when train accuracy first reaches 100%; circuit formation ends (cleanup starts)
    when test accuracy first passes 50% (test loss falls sharply); cleanup ends when the Gini
    coefficient of W_E's Fourier norms first reaches 95% of its final value after that."""
    mem = first_step_at_least(steps, train_acc, 1.0)
    clean_start = first_step_at_least(steps, test_acc, 0.5)
    final = gini[-1]
    after = [(s, g) for s, g in zip(steps, gini) if not math.isnan(clean_start) and s >= clean_start]
    clean_end = first_step_at_least([s for s, _ in after], [g for _, g in after], 0.95 * final)
    return {"memorisation_end": mem, "circuit_formation_end": clean_start, "cleanup_end": clean_end}
