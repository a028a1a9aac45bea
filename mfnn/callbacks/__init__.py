from mfnn.callbacks.neuron_cloud import NeuronCloud

__all__ = ["NeuronCloud"]
