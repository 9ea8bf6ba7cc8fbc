"""Print the module map of ``prefect_jsoc/`` as a Markdown table: every module, its job, its line count.

The job is the first paragraph of the module's docstring, so the table stays true when the code
changes: a module whose docstring does not say its one job in one sentence shows up as a bad row.

Usage (from the repository root; paste the output over the table in ``docs/architecture.md``)::

    python tools/module_map.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "prefect_jsoc"


def job_of(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line, ready for a Markdown table cell."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = docstring.strip().split("\n\n", 1)[0]
    text = " ".join(line.strip() for line in paragraph.splitlines()).replace("``", "`")
    return text.replace("|", "\\|") or "(no docstring)"


def line_count(path: Path) -> int:
    """Lines in the file, as ``wc -l`` counts them."""
    return path.read_bytes().count(b"\n")


def module_map(package: Path = PACKAGE) -> str:
    """The Markdown table: one row per module of ``package``, in path order, and a total."""
    modules = sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).parts)
    rows = ["| module | lines | its one job |", "|---|---:|---|"]
    total = 0
    for path in modules:
        count = line_count(path)
        total += count
        rows.append(f"| `{path.relative_to(package.parent).as_posix()}` | {count} | {job_of(path)} |")
    rows.append(f"| **total** ({len(modules)} modules) | {total} | |")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(module_map() + "\n")
