"""Checks against a paper's numbers, as data: a PASS/FAIL table on stdout, report.md, metrics.json."""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal, Sequence


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


def spread(values: Sequence[float]) -> str:
    """mean ± sample standard deviation over seeds (nan-aware: a seed that never got there is named)."""
    ok = [float(v) for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not ok:
        return "never"
    sd = statistics.stdev(ok) if len(ok) > 1 else 0.0
    missing = f" ({len(values) - len(ok)} of {len(values)} never)" if len(ok) < len(values) else ""
    return f"{statistics.mean(ok):.4g} ± {sd:.2g}{missing}"


def worst(values: Sequence[float], kind: str) -> float:
    """The seed that decides an all-seeds rule: the smallest for a lower bound, the largest for an upper one
    (nan if any seed has no value: a seed that never got there fails the rule)."""
    if any(math.isnan(v) for v in values):
        return math.nan
    return min(values) if kind == "min" else max(values)


def deciding(checks: Sequence[Check]) -> Check:
    """Of one check measured on several seeds, the seed that decides "every seed passes": the first failing
    seed farthest from its criterion, or, if all pass, the one closest to failing."""
    def margin(c: Check) -> float:  # > 0 inside the criterion, in units of the tolerance where it has one
        m = c.measured
        if c.kind == "true":
            return 1.0 if m else -1.0
        if m is None or (isinstance(m, float) and math.isnan(m)):
            return -math.inf
        if c.kind == "min":
            return m - c.expected
        if c.kind == "max":
            return c.expected - m
        width = c.tolerance * (abs(c.expected) if c.kind == "rel" else 1.0)
        return (width - abs(m - c.expected)) / (width or 1.0)
    return min(checks, key=margin)


def every_seed(per_seed: dict[int, Sequence[Check]]) -> list[Check]:
    """The checks of several seeds (the same checks in the same order, one list per seed) as one check each
    that passes only when every seed passes; its measured value is the deciding seed's (`deciding`).
    Names are taken from the first seed, without any per-seed note in square brackets."""
    lists = list(per_seed.values())
    if len({len(c) for c in lists}) != 1:
        raise ValueError(f"seeds report different numbers of checks: {[len(c) for c in lists]}")
    seeds = list(per_seed)
    out = []
    for row in zip(*lists):
        decider = deciding(row)
        seed = seeds[row.index(decider)]
        base = row[0].name.split(" [")[0]
        passed = all(c.passed for c in row)
        # the decider's own verdict is the all-seeds verdict: it is the seed with the smallest margin
        out.append(replace(decider, name=f"{base}, every seed ({'all pass' if passed else 'fails'}: seed {seed} "
                                         f"shown, of {len(row)})"))
    return out


def seed_check_table(per_seed: dict[int, Sequence[Check]]) -> str:
    """Markdown table: one row per check, one column per seed (value and PASS/FAIL), mean ± sd of numeric
    values, and the all-seeds result."""
    seeds, lists = list(per_seed), list(per_seed.values())
    head = ("| check | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd | criterion | every seed |\n"
            + "|---" * (len(seeds) + 4) + "|")
    rows = []
    for row in zip(*lists):
        numeric = [float(c.measured) for c in row if isinstance(c.measured, (int, float))
                   and not isinstance(c.measured, bool) and c.measured is not None]
        rows.append(f"| {cell(row[0].name.split(' [')[0])} | "
                    + " | ".join(f"{cell(c.measured)} {'PASS' if c.passed else 'FAIL'}" for c in row)
                    + f" | {spread(numeric) if len(numeric) == len(row) else '–'} | {cell(row[0].criterion)} | "
                    f"{'PASS' if all(c.passed for c in row) else 'FAIL'} |")
    return "\n".join([head] + rows)
