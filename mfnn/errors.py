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
