"""Plain reference implementations that mfnn's models are tested against."""
