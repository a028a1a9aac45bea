"""How the foreground compares with its background: cloud distance and held-out losses."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from mfnn.analysis.clouds import median_bandwidth, mmd, particles, split_distance
from mfnn.foreground.train import Foreground, assembly_scale, check_layer


@torch.no_grad()
def resampled_background_loss(net, x: torch.Tensor, y: torch.Tensor, n_neurons: int, layer: int | None = None,
                              seed: int = 0) -> float:
    """MSE of the background with hidden layer `layer` replaced by M neurons drawn with replacement from
    its own cloud, assembled as the foreground is (assembly_scale at width M): what M *independent*
    samples of the background's law achieve (the floor the foreground network is held to)."""
    layer = check_layer(net, layer)
    nb = net.neurons(layer)
    g = torch.Generator(device=x.device).manual_seed(seed)
    idx = torch.randint(len(nb["W"]), (n_neurons,), generator=g, device=x.device)
    a = nb["a"][idx]
    fake = Foreground(nb["W"][idx], None if nb["b"] is None else nb["b"][idx], a, layer,
                      assembly_scale(net, layer, n_neurons))
    return float(F.mse_loss(fake.predict(net, x).reshape(y.shape), y))


def compare(net, fg: Foreground, x: torch.Tensor, y: torch.Tensor, bandwidth: float | None = None) -> dict[str, float]:
    """Cloud distance (RBF MMD on particles (w, b, a), bandwidth = median pairwise distance of the
    background's cloud unless given, FG split into BG-sized chunks) and held-out MSEs on (x, y):
    background, assembled foreground network, M neurons resampled from the background."""
    bg_cloud = particles(net.neurons(fg.layer)).cpu()
    fg_cloud = particles(fg.neurons()).cpu()
    sigma = bandwidth or median_bandwidth(bg_cloud)
    with torch.no_grad():
        bg_loss = float(F.mse_loss(net(x).reshape(y.shape), y))
        fg_loss = float(F.mse_loss(fg.predict(net, x).reshape(y.shape), y))
    return {
        "mmd": split_distance(fg_cloud, bg_cloud, lambda u, v: mmd(u, v, sigma)),
        "bandwidth": sigma,
        "bg_loss": bg_loss,
        "fg_loss": fg_loss,
        "resampled_loss": resampled_background_loss(net, x, y, fg.n_neurons, fg.layer),
        "target_var": float(y.var()),
        "fg_neurons_per_s": fg.n_neurons * fg.steps / max(fg.seconds, 1e-9),
    }
