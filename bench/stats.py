"""Percentiles, and the one table the benchmark prints."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in (0, 1]) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else math.inf


@dataclass(frozen=True)
class Row:
    metric: str
    baseline: str  # what it is compared with, and that figure
    plugboard: str
    result: str  # the ratio or difference the goal is about
    goal: str
    met: bool | None  # None: no goal to judge

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.metric, self.baseline, self.plugboard, self.result, self.goal, verdict]


HEADER = ["metric", "baseline (same run)", "plugboard", "result", "goal", "met"]


def table(rows: list[Row]) -> str:
    cells = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
