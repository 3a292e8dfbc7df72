"""Summaries of timing samples and the comparison of one side against its baseline."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in (0, 1]) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    p99: float
    mean: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        return cls(
            n=len(samples),
            median=statistics.median(samples),
            p95=percentile(samples, 0.95),
            p99=percentile(samples, 0.99),
            mean=statistics.fmean(samples),
            minimum=min(samples),
            maximum=max(samples),
        )

    def as_ms(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "median_ms": _ms(self.median),
            "p95_ms": _ms(self.p95),
            "p99_ms": _ms(self.p99),
            "mean_ms": _ms(self.mean),
            "min_ms": _ms(self.minimum),
            "max_ms": _ms(self.maximum),
        }


@dataclass(frozen=True)
class Comparison:
    """One benchmark: Plugboard against the bare baseline, same workload, same run."""

    name: str
    baseline_label: str
    baseline: Summary
    plugboard: Summary
    tail: str = "p95"  # which tail percentile the table shows
    note: str = ""

    @property
    def median_ratio(self) -> float:
        return _ratio(self.plugboard.median, self.baseline.median)

    @property
    def tail_ratio(self) -> float:
        return _ratio(self._tail(self.plugboard), self._tail(self.baseline))

    def _tail(self, summary: Summary) -> float:
        return summary.p99 if self.tail == "p99" else summary.p95

    def as_json(self) -> dict[str, Any]:
        return {
            "baseline_label": self.baseline_label,
            "baseline": self.baseline.as_ms(),
            "plugboard": self.plugboard.as_ms(),
            "ratio_median": round(self.median_ratio, 3),
            f"ratio_{self.tail}": round(self.tail_ratio, 3),
            "note": self.note,
        }

    def row(self) -> list[str]:
        return [
            self.name,
            f"{self.baseline.n}",
            f"{_ms(self.baseline.median):.2f}",
            f"{_ms(self.plugboard.median):.2f}",
            f"{self.median_ratio:.2f}x",
            f"{self.tail} {_ms(self._tail(self.baseline)):.2f} / {_ms(self._tail(self.plugboard)):.2f}",
            f"{self.tail_ratio:.2f}x",
        ]


HEADER = ["benchmark", "n", "bare median ms", "plugboard median ms", "ratio", "tail ms (bare / plugboard)", "ratio"]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in [HEADER, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else math.inf
