"""What mfnn prints: no Lightning promotional tips, and a progress bar that stays quiet under CI.

Lightning logs "💡 Tip: ... try installing litlogger / litmodels" at INFO on every fit; the filter drops
those records only (every other Lightning message, warning or info, still prints).
"""
from __future__ import annotations

import logging
import os


class DropPromotionalTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


_TIPS = DropPromotionalTips()
for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
    if _TIPS not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_TIPS)


def under_ci() -> bool:
    """True on a CI runner (CI=true/1, as GitHub Actions, GitLab and most others set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
