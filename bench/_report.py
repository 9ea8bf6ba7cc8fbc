"""Scenario results: contenders with their raw runs and medians, headline ratios with their bars."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from bench._timing import median

__all__ = ["ScenarioResult", "bar_rows", "format_table", "markdown_table"]

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


@dataclass
class ScenarioResult:
    """What one scenario measured.

    ``contenders`` maps a name to its raw runs (seconds, or another unit) and median;
    ``headlines`` are ratios between two things measured in the same run, each with its bar;
    ``checks`` are pass/fail facts (emulator stats, files, memory) that are not ratios.
    """

    key: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)
    contenders: dict[str, dict[str, Any]] = field(default_factory=dict)
    headlines: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def contender(
        self, name: str, runs: list[float | None], *, unit: str = "s", show: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Record a contender's runs; ``show`` overrides how its median is printed."""
        med = median(runs)
        entry: dict[str, Any] = {"runs": runs, "median": med, "unit": unit, **extra}
        if show is not None:
            entry["show"] = show
        self.contenders[name] = entry
        return entry

    def headline(
        self, label: str, value: float | None, op: str | None, bar: float | None, *, explain: str = "", **extra: Any
    ) -> dict[str, Any]:
        """Record a headline ratio and whether it meets ``value <op> bar`` (``op=None``: information)."""
        if op is None or bar is None:
            passed, bar_text = None, "(info)"
        else:
            passed = None if value is None else bool(_OPS[op](value, bar))
            bar_text = f"{op} {bar:g}"
        entry = {
            "label": label,
            "ratio": value,
            "bar": bar_text,
            "pass": passed,
            "info": op is None,
            "explain": explain,
            **extra,
        }
        self.headlines.append(entry)
        return entry

    def check(self, label: str, value: Any, passed: bool | None, bar: str = "", **extra: Any) -> dict[str, Any]:
        """Record a non-ratio fact and whether it is as required."""
        entry = {"label": label, "value": value, "bar": bar, "pass": passed, **extra}
        self.checks.append(entry)
        return entry

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "params": self.params,
            "contenders": self.contenders,
            "headlines": self.headlines,
            "checks": self.checks,
            "notes": self.notes,
            "error": self.error,
        }


def _fmt_median(entry: dict[str, Any]) -> str:
    if entry.get("show"):
        return str(entry["show"])
    med = entry.get("median")
    if med is None:
        return "n/a"
    unit = entry.get("unit", "s")
    return f"{med:.3f} {unit}" if unit == "s" else f"{med:.4g} {unit}"


def _verdict(passed: bool | None, info: bool = False) -> str:
    if info:
        return "info"
    return "n/a" if passed is None else ("PASS" if passed else "MISS")


def table_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    """Rows of (scenario, contender, median, ratio, bar, verdict) for every scenario."""
    rows = []
    for res in results:
        key = res["key"]
        if res.get("error"):
            rows.append((key, "ERROR", res["error"].splitlines()[0][:80], "", "", "MISS"))
        for name, entry in res.get("contenders", {}).items():
            rows.append((key, name, _fmt_median(entry), "", "", ""))
        for h in res.get("headlines", []):
            value = "n/a" if h["ratio"] is None else f"{h['ratio']:.3f}"
            rows.append((key, h["label"], "", value, h["bar"], _verdict(h["pass"], h.get("info", False))))
        for c in res.get("checks", []):
            rows.append(
                (key, c["label"], str(c["value"]), "", c.get("bar", ""), _verdict(c["pass"], c["pass"] is None))
            )
    return rows


_HEADER = ("scenario", "contender / ratio", "median", "ratio", "bar", "verdict")


def bar_rows(results: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    """Only the rows that have a bar (PASS or MISS), and scenario errors: the summary."""
    return [row for row in table_rows(results) if row[5] in ("PASS", "MISS")]


def format_table(results: list[dict[str, Any]], rows: list[tuple[str, ...]] | None = None) -> str:
    """A plain-text table for the terminal (every row, or the ``rows`` given)."""
    rows = [_HEADER] + (table_rows(results) if rows is None else rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: list[dict[str, Any]], rows: list[tuple[str, ...]] | None = None) -> str:
    """The same table in Markdown (for docs/performance.md)."""
    rows = table_rows(results) if rows is None else rows
    out = ["| " + " | ".join(_HEADER) + " |", "|" + "|".join("---" for _ in _HEADER) + "|"]
    for row in rows:
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(out)
