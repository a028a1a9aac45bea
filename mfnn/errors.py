"""One exception type for bad configuration values, so the CLI can print one clear line."""


class ConfigError(ValueError):
    """A config value is invalid. `field` names it the way a config file spells it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise ConfigError(field, message)


def require_positive(value, field: str) -> None:
    require(value is not None and value > 0, field, f"must be > 0 (got {value!r})")


def require_choice(value: str, choices, field: str) -> None:
    require(value in choices, field, f"unknown value {value!r}; choose one of {sorted(choices)}")


def require_fits_in_memory(n_values: int, field: str, bytes_per_value: int = 4) -> None:
    """Refuse, before allocating, tensors that need more than half of this machine's memory (one line instead
    of an out-of-memory crash many lines deep)."""
    import os

    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    need = n_values * bytes_per_value
    require(need <= total / 2, field, f"needs {need / 2**30:.3g} GiB for the weights alone, more than half of "
            f"this machine's {total / 2**30:.3g} GiB")
