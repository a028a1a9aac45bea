from mfnn.callbacks.kernels import KernelAlignment
from mfnn.callbacks.foreground import ForegroundCheck
from mfnn.callbacks.neuron_cloud import NeuronCloud
from mfnn.callbacks.posterior import PosteriorAverage
from mfnn.callbacks.progress import ProgressMeasures
from mfnn.callbacks.progress_bar import StepProgressBar

__all__ = ["ForegroundCheck", "KernelAlignment", "NeuronCloud", "PosteriorAverage", "ProgressMeasures", "StepProgressBar"]
