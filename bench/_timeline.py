"""Reading the emulator's request log: the hand-off between two exports, and a run's time line.

The log (``GET /_emulator/log``) lists every request with ``t``, its Unix time of arrival, and
``what`` (``jsoc_fetch:exp_request``, ``jsoc_fetch:exp_status``, a file path, ...). Newer emulators
add to each ``jsoc_fetch`` entry the JSOC ``status`` of the reply, its ``requestid``, ``t_reply``
and the export's ``completes_at``; the hand-off is read from those when they are there, and
inferred from the order of the calls when they are not (the result says which).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["EXP_REQUEST", "EXP_STATUS", "handoffs", "timeline"]

EXP_REQUEST = "jsoc_fetch:exp_request"
EXP_STATUS = "jsoc_fetch:exp_status"
_ACCEPTED = (0, 1, 2)
#: File GETs further apart than this start a new burst (one burst per export's downloads).
_BURST_GAP = 0.5


def _has_status(log: list[dict[str, Any]]) -> bool:
    return any("status" in e for e in log if e.get("what") in (EXP_REQUEST, EXP_STATUS))


def _replied(entry: dict[str, Any]) -> float:
    return float(entry.get("t_reply") or entry["t"])


def _requests(log: list[dict[str, Any]], with_status: bool) -> list[dict[str, Any]]:
    """The ``exp_request`` calls that created or re-used an export (not refused, not faulted)."""
    out = [e for e in log if e.get("what") == EXP_REQUEST and not e.get("fault")]
    if with_status:
        out = [e for e in out if e.get("status") in _ACCEPTED]
    return sorted(out, key=lambda e: e["t"])


def handoffs(log: list[dict[str, Any]], export_delay: float | None = None) -> dict[str, Any]:
    """Seconds from the ``exp_status`` reply that reported an export complete to the next ``exp_request``.

    Meaningful for one pending export at a time: each export after the first can only be submitted
    once the previous one is complete. With the ``status`` field, the report is the last
    ``exp_status`` reply with status 0 before the request; without it, the last ``exp_status`` call
    before the request (with one pending export, the call that ended the previous wait).

    Args:
        log: The emulator's log of one run.
        export_delay: The emulator's staging time; when the log has no ``completes_at``, an export
            is taken to complete this long after its ``exp_request`` arrived.

    Returns:
        ``values`` (one per export after the first), ``source`` (how they were read), and
        ``from_completion``: seconds from the moment the previous export completed on the server
        to the next request (the polling delay included), from ``completes_at`` or ``export_delay``.
    """
    with_status = _has_status(log)
    requests = _requests(log, with_status)
    statuses = [e for e in log if e.get("what") == EXP_STATUS and not e.get("fault")]
    if with_status:
        statuses = [e for e in statuses if e.get("status") == 0]
    values: list[float] = []
    from_completion: list[float] = []
    for previous, request in zip(requests, requests[1:]):
        before = [e for e in statuses if _replied(e) <= request["t"]]
        if not before:
            continue
        report = max(before, key=_replied)
        values.append(round(request["t"] - _replied(report), 3))
        if report.get("completes_at"):
            from_completion.append(round(request["t"] - float(report["completes_at"]), 3))
        elif export_delay is not None:
            from_completion.append(round(request["t"] - (previous["t"] + export_delay), 3))
    source = (
        "status field: last exp_status reply with status 0 before each exp_request"
        if with_status
        else "inferred: the log has no status field; last exp_status call before each exp_request"
    )
    return {"values": values, "source": source, "from_completion": from_completion or None}


def _bursts(times: list[float]) -> list[list[float]]:
    bursts: list[list[float]] = []
    for t in sorted(times):
        if bursts and t - bursts[-1][1] <= _BURST_GAP:
            bursts[-1][1] = t
            bursts[-1][2] += 1
        else:
            bursts.append([t, t, 1])
    return bursts


def timeline(log: list[dict[str, Any]], t_start: float | None, t_end: float | None) -> dict[str, Any]:
    """Where one run's time went, from the emulator's side, in seconds since the run started.

    Returns:
        ``first_call`` (the first request of any kind), ``exp_requests`` (accepted submissions),
        ``complete_reports`` (``exp_status`` replies saying complete; every ``exp_status`` call when
        the log has no status field), ``downloads`` (bursts of file GETs: start, end, files),
        ``last_call``, ``end`` (the run's own end) and ``calls`` (requests per kind).
    """
    if not log or t_start is None:
        return {}

    def rel(t: float) -> float:
        return round(t - t_start, 3)

    with_status = _has_status(log)
    statuses = [e for e in log if e.get("what") == EXP_STATUS and not e.get("fault")]
    if with_status:
        statuses = [e for e in statuses if e.get("status") == 0]
    gets = [e["t"] for e in log if e.get("kind") == "GET"]
    return {
        "first_call": rel(min(e["t"] for e in log)),
        "exp_requests": [rel(e["t"]) for e in _requests(log, with_status)],
        "complete_reports": [rel(_replied(e)) for e in statuses],
        "downloads": [[rel(a), rel(b), n] for a, b, n in _bursts(gets)],
        "last_call": rel(max(e["t"] for e in log)),
        "end": None if t_end is None else rel(t_end),
        "calls": dict(Counter(e["what"] if e.get("kind") == "CGI" else f"file:{e.get('kind')}" for e in log)),
    }
