"""Checks against a paper's numbers, as data: a PASS/FAIL table on stdout, report.md, metrics.json."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal


@dataclass
class Check:
    """`measured` compared with `expected`.

    kind: "abs" |measured-expected| <= tolerance; "rel" |measured-expected| <= tolerance*|expected|;
    "min" measured >= expected; "max" measured <= expected; "true" measured is truthy.
    """

    name: str
    measured: float | bool
    expected: float | bool | str
    tolerance: float = 0.0
    kind: Literal["abs", "rel", "min", "max", "true"] = "abs"
    source: str = ""

    @property
    def passed(self) -> bool:
        m = self.measured
        if self.kind == "true":
            return bool(m)
        if m is None or (isinstance(m, float) and math.isnan(m)):
            return False
        if self.kind == "min":
            return m >= self.expected
        if self.kind == "max":
            return m <= self.expected
        if self.kind == "rel":
            return abs(m - self.expected) <= self.tolerance * abs(self.expected)
        return abs(m - self.expected) <= self.tolerance

    @property
    def criterion(self) -> str:
        return {"abs": f"{self.expected} ± {self.tolerance:g}", "rel": f"{self.expected} ± {100 * self.tolerance:g}%",
                "min": f">= {self.expected}", "max": f"<= {self.expected}", "true": str(self.expected)}[self.kind]


def fmt(x) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def cell(x) -> str:
    """A markdown table cell: a literal | (e.g. in |cos|) would otherwise split the cell."""
    return fmt(x).replace("|", "\\|")


@dataclass
class Report:
    title: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, file name)

    def add(self, *checks: Check) -> None:
        self.checks.extend(checks)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        rows = ["| check | measured | paper / criterion | result | source |", "|---|---|---|---|---|"]
        rows += [f"| {cell(c.name)} | {cell(c.measured)} | {cell(c.criterion)} | {'PASS' if c.passed else 'FAIL'} "
                 f"| {cell(c.source)} |" for c in self.checks]
        return "\n".join(rows)

    def markdown(self) -> str:
        n_pass = sum(c.passed for c in self.checks)
        parts = [f"# {self.title}", "", f"**{n_pass}/{len(self.checks)} checks pass.**", "", self.table(), ""]
        parts += [s + "\n" for s in self.sections]
        parts += [f"![{cap}]({name})\n\n*{cap}*\n" for cap, name in self.figures]
        return "\n".join(parts)

    def write(self, out_dir: str | Path, report_name: str = "report.md", metrics_name: str = "metrics.json") -> Path:
        """report_name / metrics_name: file names inside out_dir (a second report beside a replication's own)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / report_name).write_text(self.markdown())
        payload = {"title": self.title, "passed": self.passed, "metrics": self.metrics,
                   "checks": [{**asdict(c), "passed": c.passed} for c in self.checks]}
        (out / metrics_name).write_text(json.dumps(payload, indent=2, default=float))
        print(f"\n{self.title}\n" + self.table() + f"\n\n{sum(c.passed for c in self.checks)}/{len(self.checks)} PASS")
        from mfnn.dashboards import log_report  # a no-op unless the replication runs with --wandb.enabled=true
        log_report(self, out)
        return out / report_name
