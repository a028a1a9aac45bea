"""What mfnn prints: no Lightning promotional tips, and a progress bar that stays quiet under CI.

Lightning logs "💡 Tip: ... try installing litlogger / litmodels" at INFO on every fit; the filter drops
those records only (every other Lightning message, warning or info, still prints).

Lightning 2.6 (up to 2.6.6, the newest release) builds `torch.utils._pytree.LeafSpec()` in
`lightning/pytorch/utilities/_pytree.py`, which torch >= 2.10 reports as a FutureWarning on every fit
(Lightning-AI/pytorch-lightning#21326). It is not actionable for a user, so that one message from that
one module is ignored; the same warning raised anywhere else still shows.
"""
from __future__ import annotations

import logging
import os
import warnings


class DropPromotionalTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


_TIPS = DropPromotionalTips()
for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
    if _TIPS not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_TIPS)


warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                        category=FutureWarning, module=r"lightning\.pytorch\.utilities\._pytree")


def under_ci() -> bool:
    """True on a CI runner (CI=true/1, as GitHub Actions, GitLab and most others set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
