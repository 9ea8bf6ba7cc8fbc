"""Find the runnable examples in the project's Markdown: the fenced ```python and ```bash blocks.

Used by ``tests/test_docs.py``, which explains the rules (markers, grouping, environment). This
module only reads Markdown: it knows nothing about running the examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: Fence languages that are run. ``console`` (a ``$`` prompt and output) and plain fences are text.
RUN_LANGUAGES = ("python", "bash")
#: Spellings of those languages that would otherwise be ignored silently.
ALIASES = {"py": "python", "python3": "python", "sh": "bash", "shell": "bash", "zsh": "bash"}

#: The visible marker for an example the tests cannot run: on the line right before its fence.
SKIP_MARKER = re.compile(r"^<!--\s*not run in tests:\s*(?P<reason>.+?)\s*-->\s*$")
_LOOSE_MARKER = re.compile(r"not run in tests", re.IGNORECASE)
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
# A bold lead-in that opens a paragraph, e.g. "**3. Keywords** (...)" or "**Dask.** The flows ...".
_LEAD_IN = re.compile(r"^\*\*(?P<title>[^*]+?)\*\*")


class MarkdownExampleError(ValueError):
    """The Markdown breaks a rule of the docs test (an unattached marker, an unknown language)."""


@dataclass(frozen=True)
class Example:
    """One fenced example.

    Attributes:
        path: The Markdown file.
        language: ``"python"`` or ``"bash"``.
        code: The block's text, without the fences (indentation of the fence removed).
        line: 1-based line number of the block's first code line in the file.
        heading: The nearest heading or bold paragraph lead-in above the block.
        index: 1-based position of the block among the examples under that heading.
        skip_reason: The reason given by a ``<!-- not run in tests: ... -->`` marker, or None.
    """

    path: Path
    language: str
    code: str
    line: int
    heading: str
    index: int
    skip_reason: str | None

    @property
    def id(self) -> str:
        """Test id naming the file, the heading and the position, e.g. ``README.md::quick-start#1``."""
        return f"{self.path.name}::{slug(self.heading)}#{self.index}"


def slug(text: str) -> str:
    """A short, readable, id-safe form of a heading."""
    text = re.sub(r"[`*\[\]()]", "", text).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:48].rstrip("-") or "top"


def find_examples(path: Path) -> list[Example]:
    """Every ```python and ```bash example of ``path``, in file order.

    Raises:
        MarkdownExampleError: A ``not run in tests`` marker that is malformed or not directly
            before a fence, or a fence in a spelling of python/bash that would not be run.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    heading = path.stem
    per_heading: dict[str, int] = {}
    in_fence: tuple[str, str, int, int, str | None] | None = None  # fence, language, indent, start, skip
    body: list[str] = []
    for number, text in enumerate(lines, start=1):
        if in_fence is not None:
            fence, language, indent, start, skip = in_fence
            if text.strip().startswith(fence[0] * len(fence)) and text.strip().strip(fence[0]) == "":
                if language in RUN_LANGUAGES:
                    per_heading[heading] = per_heading.get(heading, 0) + 1
                    code = "\n".join(line[indent:] if line[:indent].isspace() else line for line in body)
                    examples.append(Example(path, language, code + "\n", start, heading, per_heading[heading], skip))
                in_fence, body = None, []
            else:
                body.append(text)
            continue
        opened = _FENCE.match(text)
        if opened:
            language = opened["info"].lower()
            if language in ALIASES:
                raise MarkdownExampleError(
                    f"{path.name}:{number}: write ```{ALIASES[language]} instead of ```{language}, "
                    "so that the docs test runs this example"
                )
            previous = lines[number - 2] if number > 1 else ""
            marker = SKIP_MARKER.match(previous.strip())
            in_fence = (
                opened["fence"],
                language,
                len(opened["indent"]),
                number + 1,
                marker["reason"] if marker else None,
            )
            continue
        if _LOOSE_MARKER.search(text):
            following = lines[number] if number < len(lines) else ""
            if not SKIP_MARKER.match(text.strip()) or not _FENCE.match(following):
                raise MarkdownExampleError(
                    f"{path.name}:{number}: a 'not run in tests' marker must read "
                    "'<!-- not run in tests: <reason> -->' and stand on the line right before a fence"
                )
            continue
        title = _HEADING.match(text) or _LEAD_IN.match(text)
        if title:
            heading = title["title"].rstrip(".:")
    if in_fence is not None:
        raise MarkdownExampleError(f"{path.name}:{in_fence[3] - 1}: a fence is never closed")
    return examples
