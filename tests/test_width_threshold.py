"""The width-threshold analysis on planted outcomes: with training replaced by draws from a logistic threshold at
N_c = 1.1 p (so N_c ~ p^1), run_width recovers each N_c within its error bar and the exponent x = 1. (That a
member of a batched ModularMLPNet program trains exactly as its solo run is tested in tests/test_modular.py.)"""
import math

import numpy as np
import torch

from tests.helpers import load_script

wt = load_script("replications/phase_transitions/width_threshold.py")

WIDTHS = {17: [10, 12, 14, 16, 20, 24, 32, 40], 23: [14, 16, 20, 24, 28, 32, 40, 48], 31: [16, 20, 24, 28, 32, 40, 48, 64]}
CFG = dict(lr=1e-2, weight_decay=0.3, betas=[0.9, 0.98], train_fraction=0.7, members=48, max_steps=2, eval_every=1,
           widths=WIDTHS, n_boot=100, phase_restarts=2, phase_steps=50)  # the phase search is not under test here


def test_planted_threshold_recovered(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    real = wt.train_width

    def planted(p, width, fraction, members, seed, max_steps, eval_every, **kw):
        r = real(7, 4, fraction, members, seed, 1, 1, **kw)  # a real (tiny) program for the record's shape
        won = (rng.random(members) < wt.logistic(width, 1.1 * p, 0.12)).tolist()
        r.update(p=p, width=width, generalised=won, first_step_99=[100 if g else -1 for g in won],
                 final_test_acc=[0.995 if g else 0.5 for g in won])
        return r

    monkeypatch.setattr(wt, "train_width", planted)
    res = wt.run_width(CFG, 0, torch.device("cpu"), tmp_path, np.random.default_rng(1))
    m = res["metrics"]
    for p in WIDTHS:
        t = m["thresholds"][str(p)]
        assert t["bracketed"] and abs(t["x_c"] - 1.1 * p) < 3 * t["err"], (p, t["x_c"], t["err"])
    law = m["law"]
    assert abs(law["slope"] - 1.0) < 3 * law["slope_err"] and law["slope_err"] < 0.3
    located = [c for c in res["checks"] if "brackets" in c.name or "located" in c.name]
    assert len(located) == 2 and all(c.passed for c in located)
    assert (tmp_path / "width_threshold.png").stat().st_size > 0

