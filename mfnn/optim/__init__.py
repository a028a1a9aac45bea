from mfnn.optim.langevin import Langevin

__all__ = ["Langevin"]
