# %% [markdown]
# # A two-layer mean-field net, by hand
#
# The pieces `configs/two_layer_xor.yaml` names, built in Python as in a notebook: a mean-field HardTanh
# net on continuous XOR (y = x1 x2), fresh samples every step, the neuron cloud every 100 steps, and the
# foreground self-consistency check at the end. Run it as a script (`python examples/two_layer_mean_field.py`)
# or cell by cell (`# %%` cells: VS Code, Jupyter with jupytext). `--steps` shortens it (the test suite runs 60).

# %%
import argparse
import functools

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger

import mfnn

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--steps", type=int, default=1500, help="optimiser steps")
parser.add_argument("--width", type=int, default=512, help="hidden neurons N")
parser.add_argument("--foreground-steps", type=int, default=300, help="steps of the foreground neurons")
parser.add_argument("--out", default="runs/examples", help="where the run directory goes")
args, _ = parser.parse_known_args()  # (a notebook kernel passes its own arguments)
torch.set_num_threads(1)
L.seed_everything(0)

# %% The network: f(x) = (1/N) sum_i a_i hardtanh(w_i . x / sqrt(2) + b_i). Under mean field, SGD's lr is
# multiplied by N inside the model, so the lr written here is the O(1) step of each neuron.
model = mfnn.TwoLayerMLP(input_dim=2, width=args.width, activation="hardtanh", parameterization="mean_field",
                         optimizer=functools.partial(torch.optim.SGD, lr=0.5))
data = mfnn.SyntheticDataModule(input_dim=2, target="xor", input_distribution="uniform", batch_size=1024,
                                val_size=2048, test_size=2048, steps_per_epoch=50, seed=0)

# %% Callbacks: the cloud of hidden neurons (w_i, b_i, a_i) every 100 steps, and the foreground check: fresh
# neurons trained against the final network should land where the trained neurons are.
cloud = mfnn.NeuronCloud(every_n_steps=100, plot=False)
foreground = mfnn.ForegroundCheck(n_neurons=512, mode="final", steps=args.foreground_steps, save=False)
trainer = L.Trainer(max_steps=args.steps, accelerator="cpu", callbacks=[cloud, foreground,
                                                                          mfnn.StepProgressBar(["train/loss"])],
                    logger=CSVLogger(args.out, name="two_layer_mean_field"),
                    enable_model_summary=False, enable_checkpointing=False, check_val_every_n_epoch=1,
                    log_every_n_steps=50)
trainer.fit(model, data)

# %% Read the cloud back: one snapshot per 100 steps, each neuron a row.
first, last = cloud.snapshots[0], cloud.snapshots[-1]
print(f"{len(cloud.snapshots)} snapshots, steps {first['step']} .. {last['step']}; "
      f"W {tuple(last['W'].shape)}, b {tuple(last['b'].shape)}, a {tuple(last['a'].shape)}")
moved = (last["W"] - first["W"]).norm(dim=1).mean() / first["W"].norm(dim=1).mean()
print(f"mean relative movement of the incoming weights: {moved:.3f} (mean field: O(1), lazy: O(1/sqrt(N)))")

# %% How well it fits, on the validation and on the separate test split.
(test,) = trainer.test(model, data, verbose=False)
print(f"test MSE {test['test/mse']:.4f}  (target variance {data.target_variance:.4f})")

# %% The foreground check's comparison (cloud distance and loss of the assembled network) per probe.
for layer, probes in foreground.metrics.items():
    for probe, metrics in probes.items():
        print(f"foreground layer {layer} / {probe}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
