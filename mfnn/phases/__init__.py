"""Phase-transition toolkit: order-parameter moments with bootstrap errors, Binder crossings, finite-size
collapse, first-order diagnostics, and the Ising / Curie-Weiss samplers that calibrate them."""
from mfnn.phases.binder import binder_critical_point, crossing, extrapolate
from mfnn.phases.collapse import collapse, power_law, quality, scaled
from mfnn.phases.first_order import diagnose, modes
from mfnn.phases.observables import Observables, integrated_autocorrelation_time, observables, value_at

__all__ = ["Observables", "observables", "value_at", "integrated_autocorrelation_time", "crossing", "extrapolate",
           "binder_critical_point", "collapse", "quality", "scaled", "power_law", "diagnose", "modes"]
