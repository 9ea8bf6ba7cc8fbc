"""A series definition as the rest of the package needs it, read from ``jsoc_info?op=series_struct``.

drms's own ``SeriesInfo`` keeps keywords and segments in pandas frames and leaves out
``primekeysinfo`` (which prime keys are slotted, and their step); :class:`SeriesInfo` here is a
small frozen value with exactly what validation, size estimates and record-set rendering use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from prefect_jsoc.errors import JsocValidationError
from prefect_jsoc.query import JsocQuery, SeriesLayout, parse_duration

__all__ = ["SeriesInfo", "series_name"]

# Bytes per value of the DRMS segment types whose size is fixed.
_TYPE_BYTES = {"char": 1, "short": 2, "int": 4, "longlong": 8, "float": 4, "double": 8}
_FITS_OVERHEAD = 2 * 2880  # a FITS header block and the data padding
_SERIES_NAME = re.compile(r"\s*([\w.]+)")


def series_name(recordset: str) -> str:
    """The series name a record set starts with (``"hmi.M_45s[...]{...}"`` -> ``"hmi.M_45s"``)."""
    m = _SERIES_NAME.match(recordset)
    return m[1] if m else recordset.strip()


class SeriesInfo(BaseModel):
    """What the client needs from ``jsoc_info?op=series_struct``.

    Attributes:
        name: The series name as requested.
        primekeys: Prime keys in series order.
        keywords: Keyword name -> DRMS type (``time``, ``int``, ``float``, ``string``, ...).
        segments: Segment name -> protocol (``fits``, ``link via ...``).
        segment_bytes: Segment name -> bytes of one exported file, for segments of fixed size.
        slot_steps: Slotted prime key -> slot step in seconds.
        note: The series description.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    primekeys: tuple[str, ...] = ()
    keywords: dict[str, str] = {}
    segments: dict[str, str] = {}
    segment_bytes: dict[str, int] = {}
    slot_steps: dict[str, float] = {}
    note: str = ""

    @classmethod
    def from_struct(cls, name: str, struct: dict[str, Any]) -> SeriesInfo:
        """Parse a ``series_struct`` reply.

        Args:
            name: The series name as the user spelled it.
            struct: The JSON reply of ``jsoc_info?op=series_struct``.

        Returns:
            The series definition.
        """
        slots = [p for p in struct.get("primekeysinfo") or [] if isinstance(p, dict) and p.get("name")]
        primekeys = [p["name"] for p in slots] or list(struct.get("primekeys") or [])
        keywords = [k for k in struct.get("keywords") or [] if k.get("name")]
        segments = [s for s in struct.get("segments") or [] if s.get("name")]
        return cls(
            name=name,
            primekeys=tuple(str(p) for p in primekeys if p),
            keywords={str(k["name"]): str(k.get("type") or "") for k in keywords},
            segments={str(s["name"]): str(s.get("protocol") or "") for s in segments},
            segment_bytes={
                str(s["name"]): size
                for s in segments
                if (size := _segment_bytes(s.get("dims"), s.get("type"))) is not None
            },
            slot_steps={str(p["name"]): step for p in slots if p.get("slotted") and (step := _seconds(p.get("step")))},
            note=str(struct.get("note") or ""),
        )

    @property
    def time_primekeys(self) -> tuple[str, ...]:
        """Prime keys whose type is ``time``."""
        return tuple(k for k in self.primekeys if self.keywords.get(k) == "time")

    def layout(self, query: JsocQuery | None = None) -> SeriesLayout:
        """The :class:`~prefect_jsoc.query.SeriesLayout` used to build record sets.

        Args:
            query: When given, only the keywords and segments this query uses are kept (their
                server spelling), so the layout carried by handles and results stays small.

        Returns:
            The layout.
        """
        keywords: tuple[str, ...] = tuple(self.keywords)
        segments: tuple[str, ...] = tuple(self.segments)
        if query is not None:
            keywords = tuple(k for k in (self.keyword(f.name) for f in query.filters) if k)
            segments = tuple(s for s in (self.segment(name) for name in query.segments) if s)
        return SeriesLayout(
            primekeys=self.primekeys,
            time_primekeys=self.time_primekeys,
            keywords=keywords,
            segments=segments,
            slot_steps=self.slot_steps,
        )

    def keyword(self, name: str) -> str | None:
        """Return the keyword's spelling on the server (case-insensitive match), or None."""
        return _spelling(self.keywords, name)

    def segment(self, name: str) -> str | None:
        """Return the segment's spelling on the server (case-insensitive match), or None."""
        return _spelling(self.segments, name)

    def filename_format(self) -> str:
        """The ``filenamefmt`` drms would send: ``<series>.{T_REC:A}.{CAMERA}.{segment}``."""
        parts = [f"{{{k}:A}}" if self.keywords.get(k) == "time" else f"{{{k}}}" for k in self.primekeys]
        if parts:
            return f"{self.name.lower()}.{'.'.join(parts)}.{{segment}}"
        return f"{self.name.lower()}.{{recnum:%lld}}.{{segment}}"

    def record_bytes_bound(self, segments: Sequence[str] = ()) -> int | None:
        """An upper bound of one record's export size from the segments' fixed dimensions, or None.

        Args:
            segments: The segments exported (any spelling); all of the series' when empty.

        Returns:
            Bytes, or None when a requested segment has variable dimensions (``VARxVAR``) or an
            unknown type.
        """
        names = [self.segment(s) or s for s in segments] if segments else list(self.segments)
        sizes = [self.segment_bytes.get(n) for n in names]
        if not sizes or any(v is None for v in sizes):
            return None
        return sum(v for v in sizes if v is not None)


def _segment_bytes(dims: Any, kind: Any) -> int | None:
    """Bytes of one uncompressed segment from ``dims`` such as ``"4096x4096"``; None when variable."""
    width = _TYPE_BYTES.get(str(kind or "").lower())
    if width is None or not isinstance(dims, str) or not dims.strip():
        return None
    total = width
    for part in dims.lower().split("x"):
        if not part.strip().isdigit():
            return None
        total *= int(part)
    return total + _FITS_OVERHEAD


def _seconds(step: Any) -> float | None:
    """A slot step from ``primekeysinfo`` (``"45"``, ``"720"``, or with a unit such as ``"12s"``) in seconds."""
    try:
        return float(step)
    except (TypeError, ValueError):
        pass
    try:
        return parse_duration(str(step))
    except JsocValidationError:
        return None


def _spelling(names: dict[str, Any], name: str) -> str | None:
    if name in names:
        return name
    low = name.lower()
    return next((k for k in names if k.lower() == low), None)
