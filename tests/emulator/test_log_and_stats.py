"""What tests measure from outside: the request log, the export stats and JSOC's ``wait`` hints."""

from __future__ import annotations

import json
import math
from datetime import datetime

import drms
from jsoc_test_support import cgi, wait_until

from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.emulator.stats import email_digest

from .helpers import EMAIL, fetch

DS = "hmi.m_45s[2014.01.01_00:00:00_TAI/2m]{magnetogram}"
OTHER = "other@example.org"


def exp_request(emu: JsocEmulator, ds: str = DS, notify: str = EMAIL) -> dict:
    return cgi(emu, "jsoc_fetch", op="exp_request", format="json", ds=ds, notify=notify, method="url", protocol="fits")


def exp_status(emu: JsocEmulator, request_id: str) -> dict:
    return cgi(emu, "jsoc_fetch", op="exp_status", requestid=request_id)


def fetch_calls(emu: JsocEmulator) -> list[dict]:
    return [e for e in emu.log() if e["what"].startswith("jsoc_fetch:")]


def test_export_calls_are_logged_with_time_op_id_email_and_status(emu: JsocEmulator) -> None:
    emu.configure(export_delay=0.5)
    rid = exp_request(emu)["requestid"]
    refused = exp_request(emu, ds="hmi.v_45s[2014.01.01/1m]")
    wait_until(lambda: int(exp_status(emu, rid)["status"]) == 0)
    request, refusal, *polls = fetch_calls(emu)
    assert (request["op"], request["status"], request["requestid"], request["outcome"]) == (
        "exp_request",
        2,
        rid,
        "created",
    )
    assert request["email"] == EMAIL and request["email_digest"] == email_digest(EMAIL)
    assert (refusal["status"], refusal["requestid"], refusal["outcome"]) == (7, None, "refused")
    assert refused["status"] == 7
    assert [p["status"] for p in polls][-1] == 0 and all(p["op"] == "exp_status" for p in polls)
    assert all(p["requestid"] == rid and p["email_digest"] == email_digest(EMAIL) for p in polls)
    # Wall-clock times with millisecond resolution, and when the export completed.
    for entry in (request, refusal, *polls):
        parsed = datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()
        assert len(entry["at"]) == len("2025-01-01T00:00:00.000Z") and abs(parsed - entry["t"]) < 0.001
        assert entry["t"] <= entry["t_reply"]
    assert request["completes_at"] == polls[-1]["completes_at"] == emu.stats()["exports"][rid]["completes_at"]
    assert request["t"] <= request["completes_at"] - 0.5 <= request["t_reply"]  # accepted between the two
    assert polls[-1]["t"] >= request["completes_at"] > polls[0]["t"]
    assert json.loads(fetch(f"{emu.url}_emulator/log")[2])[-len(polls) :] == polls


def test_stats_count_created_duplicate_and_refused_exports(emu: JsocEmulator) -> None:
    emu.configure(export_delay=0.3)
    first = exp_request(emu)["requestid"]
    assert exp_request(emu, ds="hmi.v_45s[2014.01.01/1m]")["status"] == 7
    # JSOC checks the pending limit before it looks for a duplicate: the same export asked for
    # again while it is pending is refused too.
    assert exp_request(emu)["status"] == 7
    wait_until(lambda: int(exp_status(emu, first)["status"]) == 0)
    assert exp_request(emu)["requestid"] == first  # done: the duplicate gets the same id
    assert exp_request(emu, notify=OTHER)["requestid"] == first  # whoever asks
    second = exp_request(emu, ds="hmi.v_45s[2014.01.01/1m]")["requestid"]
    stats = emu.stats()
    assert (stats["exports_created"], stats["exports_duplicate"], stats["refusals_status7"]) == (2, 2, 2)
    assert stats["exports_submitted"] == 2 and stats["max_pending_per_email"] == 1 and stats["max_pending"] == 1
    assert stats["status_replies"]["exp_request:7"] == 2
    assert stats["exports"][first]["email_digest"] == email_digest(EMAIL)
    assert stats["exports"][first]["requested_by"] == [email_digest(EMAIL), email_digest(OTHER)]
    assert stats["exports"][first]["duplicates"] == 2 and stats["exports"][second]["duplicates"] == 0
    entry = stats["exports"][second]
    assert math.isclose(entry["completes_at"] - entry["submitted_at"], 0.3, abs_tol=1e-6)
    emu.reset()
    assert emu.stats()["exports"] == {} and emu.stats()["exports_created"] == 0


def test_max_pending_counts_every_email(emu: JsocEmulator) -> None:
    emu.configure(export_delay=30)
    exp_request(emu)
    exp_request(emu, notify=OTHER, ds="hmi.v_45s[2014.01.01/1m]")
    stats = emu.stats()
    assert stats["max_pending"] == 2 and stats["max_pending_per_email"] == 1 and stats["pending_now"] == 2


def test_wait_is_the_time_until_the_export_is_ready(emu: JsocEmulator, client: drms.Client) -> None:
    emu.configure(export_delay=4)
    reply = exp_request(emu)
    assert reply["status"] == 2 and reply["wait"] == 4
    pending = exp_status(emu, reply["requestid"])
    assert pending["status"] == 1 and 0 <= pending["wait"] <= 4
    emu.configure(export_delay=0.2)
    emu.forget_exports()
    quick = exp_request(emu)
    assert quick["wait"] == 1  # whole seconds, rounded up: a first poll after it finds the export ready
    wait_until(lambda: int(exp_status(emu, quick["requestid"])["status"]) == 0)
    assert exp_request(emu)["wait"] == 0  # a finished duplicate is ready now
    # drms schedules its polls from it when asked to (sleep=None).
    emu.forget_exports()
    emu.configure(export_delay=1)
    req = client.export(DS.replace("2m", "3m"), method="url", protocol="fits")
    assert req._d["wait"] == 1 and req.wait(timeout=10, sleep=None)


def test_the_log_survives_restart(emu: JsocEmulator) -> None:
    cgi(emu, "show_series")
    emu.restart()
    assert emu.log()[-1]["what"] == "show_series"
    cgi(emu, "showextseries", dbhost="hmidb2")
    assert [e["what"] for e in emu.log()] == ["show_series", "showextseries"]
    emu.reset()
    assert emu.log() == []
