from mfnn.callbacks.neuron_cloud import NeuronCloud

__all__ = ["NeuronCloud"]
from mfnn.callbacks.foreground import ForegroundCheck
