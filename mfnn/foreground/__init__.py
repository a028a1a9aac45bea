"""Foreground self-consistency: fresh neurons, each trained alone against a frozen background.

Mean-field picture: a hidden neuron is a particle theta_i = (w_i, b_i, a_i) (incoming row, bias,
outgoing weights) driven by the field that all neurons together leave. A *foreground* neuron j is a
test particle in that same field: it is added to the frozen background and descends the loss of
"background + its own contribution" on the background's data. No foreground neuron sees another one,
so M of them are one (M, fan_in) tensor and training all of them is one batched tensor program.
If the background is self-consistent (a mean-field fixed point / trajectory), M neurons drawn from the
initial law land in the background's own neuron law.

Layers of an MLPNet (0-based hidden layer l of `depth`; h_l its post-activations, h_{-1} = x):
  last hidden layer (l = depth-1): the neuron's own term is s a_j act(w_j . h_{l-1}/sqrt(fan_in) + b_j)
    in the output (s = readout scale). It follows the correlation of its feature with the residual
    r = y - f_bg (G = dL/df = -2 r / (B C) in `linear_response_step`): exactly the velocity of a
    background particle at the same theta. self_term=True instead descends the full MSE of f_bg + own
    term (`foreground_step`), which adds the neuron's O(s^2) self-interaction: a background neuron's
    own term is already inside f_bg, so this counts it twice, and under mean-field SGD (lr x N) it acts
    as an extra decay ~ <phi^2>/N per step, i.e. O(T/N) after T steps (measured: it shrinks the
    foreground cloud visibly at N = 256, T = 1000).
  middle layer (l < depth-1): its own term is a_j act(...) / sqrt(N) in the next layer's pre-activation
    z_{l+1} (a_j: (N,), the column it would add to W_hidden[l]). It reacts to the frozen layers around
    it: the layers below give its input h_{l-1}(x), the layers above give the backpropagated signal
    G = dL/dz_{l+1} (B, N). It descends the first-order change of the background's loss,
    dL_j = sum_b G_b . a_j phi_j(x_b) / sqrt(N) (`linear_response_step`): exactly the gradient the
    background's own neuron i would get at theta_i = theta_j.
  Both use the background's SGD settings (MFNNModule: mean-field SGD multiplies lr by N, every layer).

Two ways to keep the residual from vanishing (infinite data and no regularisation drive r -> 0):
  trajectory: the background is recorded during its training and foreground step t sees background
    step t (one particle in the recorded field: the mean-field ODE, exact self-consistency);
  final: the final background is frozen and weight decay (the background's own) keeps r != 0.

Modules (plain PyTorch, no Lightning):
  steps.py       foreground_step, linear_response_step: the two batched SGD kernels
  trajectory.py  Trajectory(net).record(step, net) / .at(step): the recorded background
  train.py       train_foreground(net, draw_batch, n_neurons, steps, lr, weight_decay, trajectory, probe, layer,
                 seed) -> Foreground(W, b, a, layer, readout, loss_history, seconds, steps);
                 Foreground.predict(net, x): the assembled network (layer `layer` replaced by the M neurons)
  compare.py     compare(net, fg, x, y) -> {"mmd", "bandwidth", "bg_loss", "fg_loss", "resampled_loss", ...}
  throughput.py  foreground_throughput(...): batched neurons vs a Python loop (bench and reports)
  converge.py    converge(theta0, x, r, s, wd, tol): the post's protocol for a two-layer background, every
                 neuron minimising its single-neuron objective V_s to |grad| < tol (batched saddle-free Newton)
The Lightning adapter is mfnn.callbacks.ForegroundCheck. Layer functions and the initial law are MLPNet's own.
Only MSE backgrounds (the residual / dL/dz of the MSE) are supported.
"""
from mfnn.foreground.compare import compare, resampled_background_loss
from mfnn.foreground.steps import foreground_step, linear_response_step
from mfnn.foreground.train import DrawBatch, Foreground, Probe, assembly_scale, backprop_signal, check_layer, train_foreground
from mfnn.foreground.trajectory import Trajectory

__all__ = ["DrawBatch", "Foreground", "Probe", "Trajectory", "assembly_scale", "backprop_signal", "check_layer",
           "compare", "foreground_step", "linear_response_step", "resampled_background_loss", "train_foreground"]
