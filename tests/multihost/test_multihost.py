"""JSOC's limits across hosts (issue 10): two hosts share only a Prefect server, a JSOC server and an e-mail.

The Prefect server runs on PostgreSQL; the JSOC emulator stages every export in 3 s and, as JSOC does,
allows one pending export per e-mail, refusing more with status 7. JSOC blocks clients that hammer it,
so a refusal is a politeness failure even when the data arrive in the end. Each test prints its figures
(``MULTIHOST FIGURES {...}`` with ``-s``) and writes them to ``figures.json`` in its tmp directory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits

from prefect_jsoc.downloads import RECORD_DIR
from prefect_jsoc.limits import SLOT_LEASE_SECONDS

from ._hosts import FetchReport, HostRun
from ._processes import wait_until
from ._services import (
    EXPORT_DELAY,
    MAX_PENDING_PER_EMAIL,
    REPOSSESSOR_LOOP_SECONDS,
    EmulatorProcess,
)

# ``slow`` keeps the module out of ``make test-fast``; ``make test`` (CI) runs it.
pytestmark = [pytest.mark.multihost, pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ROOT / "deployments" / "prefect.yaml"
#: Longest one host's fetch may take (generous: with refusals and backoff the old code is slow).
FETCH_TIMEOUT = 240.0
#: After a host dies holding the export slot, the other host's next fetch completes within the
#: staging time plus the slot's lease (Prefect's minimum, 60 s), the server's repossessor interval
#: and a few seconds of polling. Issue 10 asked for the staging time plus 60 s; Prefect's 60 s lease
#: minimum makes that about 5 s too tight (the slot itself comes back about a minute after the kill).
CRASH_STALL_BOUND = EXPORT_DELAY + SLOT_LEASE_SECONDS + REPOSSESSOR_LOOP_SECONDS + 5.0


def unpackable_blocks(start: str, end: str) -> list[dict[str, Any]]:
    """Four blocks over one interval that no export can hold together: four series, four segments."""
    return [
        {"series": "hmi.M_45s", "start": start, "end": end, "segments": ["magnetogram"]},
        {"series": "hmi.V_45s", "start": start, "end": end, "segments": ["Dopplergram"]},
        {"series": "hmi.Ic_45s", "start": start, "end": end, "segments": ["continuum"]},
        {"series": "aia.lev1_euv_12s", "start": start, "end": end, "wavelength": [171], "segments": ["image"]},
    ]


# -- what the emulator saw ----------------------------------------------------------------------


def politeness(emulator: EmulatorProcess) -> dict[str, int]:
    """Status-7 refusals, exports created, most pending exports of one e-mail, ``exp_request`` calls."""
    stats = emulator.stats()
    return {
        "refusals": int(stats["status_replies"].get("exp_request:7", 0)),
        "exports": int(stats["exports_submitted"]),
        "max_pending": int(stats["max_pending_per_email"]),
        "exp_request_calls": int(stats["requests"].get("jsoc_fetch:exp_request", 0)),
    }


def expected_files(emulator: EmulatorProcess, blocks: list[dict[str, Any]]) -> int:
    """How many files ``blocks`` select at the emulator (one segment per block)."""
    from prefect_jsoc import JsocQuery, JsocSettings
    from prefect_jsoc.validation import validate_query

    settings = JsocSettings(server_url=emulator.url)
    return sum(
        emulator.record_count(validate_query(JsocQuery(**block), settings, export=False).recordset())
        for block in blocks
    )


def assert_valid_fits(path: Path, served: bytes) -> None:
    """``path`` is a complete FITS file, byte for byte what the emulator serves."""
    assert path.read_bytes() == served, f"{path} differs from the emulator's file"
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert any(hdu.data is not None for hdu in hdul), f"{path} has no data"


def assert_host_files(emulator: EmulatorProcess, report: FetchReport) -> int:
    """Every export a host used arrived whole: its files are the export's files, each valid.

    Returns:
        The number of files checked.
    """
    checked = 0
    for request_id in report.request_ids:
        index = emulator.export_status(request_id)
        assert str(index["status"]) == "0", index
        served = {row["filename"]: f"{index['dir']}/{row['filename']}" for row in index["data"]}
        local = [Path(f) for b in report.blocks if b["request_id"] == request_id for f in b["files"]]
        assert sorted(p.name for p in local) == sorted(served), f"files of {request_id} differ from its export"
        for path in local:
            assert_valid_fits(path, emulator.fetch(served[path.name]))
            checked += 1
    return checked


def assert_files_served(emulator: EmulatorProcess, directory: Path, expected: int) -> int:
    """``directory`` holds ``expected`` files, each a valid FITS file equal to one the emulator served."""
    served = {entry["what"].rsplit("/", 1)[-1]: entry["what"] for entry in emulator.log() if entry["kind"] == "GET"}
    files = sorted(p for p in directory.rglob("*") if p.is_file() and RECORD_DIR not in p.parts)  # not the records
    assert not [p for p in files if p.name.startswith(".")], f"temporary files left in {directory}"
    assert len(files) == expected, f"{directory} holds {len(files)} files, expected {expected}"
    for path in files:
        assert path.name in served, f"{path.name} was never downloaded from the emulator"
        assert_valid_fits(path, emulator.fetch(served[path.name]))
    return len(files)


def failures(*reports: FetchReport) -> list[str]:
    """``label: error`` of every failed block, for assertion messages."""
    return [f"{b['label']}: {b['error']}" for r in reports for b in r.blocks if b["error"]]


def start_together(runs: list[HostRun], figures: dict[str, Any]) -> float:
    """Wait until every host has imported everything, then start their fetches at once."""
    for run in runs:
        run.wait_ready()
    figures["ready_seconds"] = [round(run.ready_seconds or 0, 1) for run in runs]
    started = time.monotonic()
    for run in runs:
        run.go()
    return started


# -- the scenarios ------------------------------------------------------------------------------


def test_four_different_blocks_on_each_of_two_hosts_at_once(emulator, hosts, figures) -> None:
    """8 exports in all, never more than one pending, and JSOC never has to say no."""
    blocks_a = unpackable_blocks("2014-01-01T00:00:00", "2014-01-01T00:01:00")
    blocks_b = unpackable_blocks("2014-01-01T06:00:00", "2014-01-01T06:01:00")
    runs = [hosts("host-a").fetch(blocks_a), hosts("host-b").fetch(blocks_b)]
    started = start_together(runs, figures)
    report_a, report_b = (run.wait(FETCH_TIMEOUT) for run in runs)
    seen = politeness(emulator)
    figures.update(
        seen,
        wall_seconds=round(time.monotonic() - started, 1),
        host_seconds=[round(r.wall_seconds, 1) for r in (report_a, report_b)],
    )

    assert report_a.ok and report_b.ok, failures(report_a, report_b)
    assert seen["refusals"] == 0, f"JSOC refused {seen['refusals']} export requests with status 7"
    assert seen["max_pending"] <= MAX_PENDING_PER_EMAIL
    assert seen["exports"] == 8
    assert len(report_a.request_ids | report_b.request_ids) == 8
    checked = assert_host_files(emulator, report_a) + assert_host_files(emulator, report_b)
    assert checked == expected_files(emulator, blocks_a + blocks_b)


def test_the_same_query_on_two_hosts_at_once_makes_one_export(emulator, hosts, figures) -> None:
    """Both hosts end with the one export JSOC made (an identical request is answered with its id)."""
    block = {
        "series": "hmi.M_45s",
        "start": "2014-01-01T12:00:00",
        "end": "2014-01-01T12:02:00",
        "segments": ["magnetogram"],
    }
    runs = [hosts("host-a").fetch([block]), hosts("host-b").fetch([block])]
    started = start_together(runs, figures)
    report_a, report_b = (run.wait(FETCH_TIMEOUT) for run in runs)
    seen = politeness(emulator)
    figures.update(
        seen,
        wall_seconds=round(time.monotonic() - started, 1),
        request_ids=sorted(report_a.request_ids | report_b.request_ids),
    )

    assert report_a.ok and report_b.ok, failures(report_a, report_b)
    assert seen["exports"] == 1
    assert report_a.request_ids == report_b.request_ids and len(report_a.request_ids) == 1
    assert seen["refusals"] == 0, f"JSOC refused {seen['refusals']} export requests with status 7"
    assert seen["max_pending"] <= MAX_PENDING_PER_EMAIL
    assert (
        assert_host_files(emulator, report_a)
        == assert_host_files(emulator, report_b)
        == expected_files(emulator, [block])
    )


@pytest.mark.crash
def test_a_host_killed_while_its_export_is_pending_stalls_the_other_host_at_most_a_minute(
    emulator, hosts, figures
) -> None:
    """SIGKILL one host's process group mid-export: the other host's next fetch still completes soon."""
    doomed = {
        "series": "hmi.M_45s",
        "start": "2014-01-01T18:00:00",
        "end": "2014-01-01T18:01:00",
        "segments": ["magnetogram"],
    }
    survivor = {
        "series": "hmi.V_45s",
        "start": "2014-01-01T18:00:00",
        "end": "2014-01-01T18:01:00",
        "segments": ["Dopplergram"],
    }
    run_a, run_b = hosts("host-a").fetch([doomed]), hosts("host-b").fetch([survivor])
    run_a.wait_ready()
    run_b.wait_ready()
    run_a.go()
    wait_until(lambda: emulator.stats()["pending_now"] >= 1, FETCH_TIMEOUT, "host-a's export to be pending")
    run_a.kill()
    killed_at = time.monotonic()
    pending_at_kill = emulator.stats()["pending_now"]
    run_b.go()
    report_b = run_b.wait(FETCH_TIMEOUT)
    seen = politeness(emulator)
    figures.update(
        seen,
        pending_at_kill=pending_at_kill,
        stall_bound_seconds=CRASH_STALL_BOUND,
        next_fetch_seconds=round(report_b.wall_seconds, 1),
        since_kill_seconds=round(time.monotonic() - killed_at, 1),
    )

    assert pending_at_kill == 1, "host-a's export was no longer pending when it was killed"
    assert report_b.ok, failures(report_b)
    assert seen["refusals"] == 0, f"JSOC refused {seen['refusals']} export requests with status 7"
    assert seen["max_pending"] <= MAX_PENDING_PER_EMAIL
    assert seen["exports"] == 2
    assert assert_host_files(emulator, report_b) == expected_files(emulator, [survivor])
    assert report_b.wall_seconds <= CRASH_STALL_BOUND, (
        f"host-b's fetch took {report_b.wall_seconds:.1f} s after host-a died holding the export slot; "
        f"the bound is the staging time plus 60 s ({CRASH_STALL_BOUND:.0f} s)"
    )


def test_the_next_export_starts_within_two_seconds_of_the_previous_one_completing(emulator, hosts, figures) -> None:
    """Issue 12's hand-off: a finished export frees its slot at once and the next one is submitted."""
    blocks = unpackable_blocks("2014-01-03T00:00:00", "2014-01-03T00:01:00")[:2]  # two exports
    run = hosts("host-a").fetch(blocks)
    start_together([run], figures)
    report = run.wait(FETCH_TIMEOUT)
    created = [e for e in emulator.log() if e.get("op") == "exp_request" and e.get("outcome") == "created"]
    gap = created[1]["t"] - created[0]["completes_at"]  # read from the emulator's log, not measured here
    figures.update(politeness(emulator), hand_off_seconds=round(gap, 2))

    assert report.ok, failures(report)
    assert len(created) == 2 and created[1]["t"] > created[0]["completes_at"]
    assert gap < 2.0, f"the second export was submitted {gap:.2f} s after the first one completed"


# -- two workers running the deployments ----------------------------------------------------------


def runs_started_by(worker_log: str, flow_runs: list[Any]) -> list[str]:
    """The flow runs a worker's log says it submitted and did not have to give up to another worker."""
    return [
        str(run.id)
        for run in flow_runs
        if f"submitting flow run '{run.id}'" in worker_log
        and f"Aborted submission of flow run '{run.id}'" not in worker_log
    ]


def deploy_prefect_yaml(client: Any) -> list[str]:
    """Register every deployment of ``deployments/prefect.yaml`` on its (new) process work pool.

    The same entrypoints, parameters, tags, pool and concurrency limits as ``prefect deploy --all``
    (which ``tests/test_deployments.py`` runs), registered in-process because a ``prefect deploy``
    process costs 20-40 s on a loaded 2-core machine. The schedules are left out: nothing may start
    on its own during the test. Returns the ``flow/deployment`` names.
    """
    import yaml
    from prefect import Flow
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    spec = yaml.safe_load(DEPLOYMENTS.read_text())
    names = []
    for deployment in spec["deployments"]:
        pool = deployment["work_pool"]["name"]
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass
        flow = Flow.from_source(source=str(ROOT), entrypoint=deployment["entrypoint"])
        flow.deploy(
            name=deployment["name"],
            work_pool_name=pool,
            build=False,
            push=False,
            work_queue_name=deployment["work_pool"].get("work_queue_name"),
            job_variables=deployment["work_pool"].get("job_variables") or None,
            parameters=deployment.get("parameters"),
            description=deployment.get("description"),
            tags=deployment.get("tags"),
            concurrency_limit=deployment.get("concurrency_limit"),
            print_next_steps=False,
            ignore_warnings=True,
        )
        names.append(f"{flow.name}/{deployment['name']}")
    return names


def test_two_workers_running_the_deployments_share_the_limits(
    emulator, hosts, figures, prefect_server, tmp_path
) -> None:
    """Two ``prefect worker`` processes on one process pool, each on its own host, run two deployments:
    the same figures (no refusal, at most one pending export, every file whole and valid)."""
    from prefect import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # aia-171-hourly-daily-sync for 2014-01-02 (one block: 24 hourly images), and fetch-on-demand with
    # four blocks that cannot pack: five exports competing for one e-mail's single slot.
    daily_block = {
        "series": "aia.lev1_euv_12s",
        "start": "2014-01-02T00:00:00",
        "end": "2014-01-03T00:00:00",
        "end_inclusive": False,
        "sample": "1h",
        "wavelength": [171],
        "segments": ["image"],
    }
    on_demand_blocks = unpackable_blocks("2014-01-02T06:00:00", "2014-01-02T06:01:00")
    workers = {
        name: hosts(name).start_worker("jsoc-local", f"worker-{name}", limit=1)[1] for name in ("host-a", "host-b")
    }
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        deployed = deploy_prefect_yaml(client)
        assert "jsoc-fetch/fetch-on-demand" in deployed and "jsoc-daily-sync/aia-171-hourly-daily-sync" in deployed

        def both_workers_polling() -> bool:
            found = {w.name for w in client.read_workers_for_work_pool("jsoc-local")}
            return {f"worker-{name}" for name in workers} <= found

        wait_until(both_workers_polling, FETCH_TIMEOUT, "both workers to poll the work pool", 0.5)
        started = time.monotonic()
        flow_runs = [
            run_deployment(
                "jsoc-daily-sync/aia-171-hourly-daily-sync",
                timeout=0,
                parameters={"reference_time": "2014-01-03T00:00:00+00:00", "path": str(tmp_path / "daily")},
            ),
            run_deployment(
                "jsoc-fetch/fetch-on-demand",
                timeout=0,
                parameters={"queries": on_demand_blocks, "path": str(tmp_path / "on-demand")},
            ),
        ]

        def final_states() -> list[Any] | None:
            states = [client.read_flow_run(run.id).state for run in flow_runs]
            return states if all(s is not None and s.is_final() for s in states) else None

        states = wait_until(final_states, FETCH_TIMEOUT, "the deployments' flow runs to finish", 1.0)
    seen = politeness(emulator)
    ran_on = {name: len(runs_started_by(log.read_text(), flow_runs)) for name, log in workers.items()}
    figures.update(
        seen, wall_seconds=round(time.monotonic() - started, 1), runs_per_worker=ran_on, states=[s.name for s in states]
    )

    assert [s.name for s in states] == ["Completed"] * len(flow_runs), [s.message for s in states]
    assert sorted(ran_on.values()) == [1, 1], f"each worker should run one flow run: {ran_on}"
    assert seen["refusals"] == 0, f"JSOC refused {seen['refusals']} export requests with status 7"
    assert seen["max_pending"] <= MAX_PENDING_PER_EMAIL
    assert seen["exports"] == 1 + len(on_demand_blocks)
    assert_files_served(emulator, tmp_path / "daily", expected_files(emulator, [daily_block]))
    assert_files_served(emulator, tmp_path / "on-demand", expected_files(emulator, on_demand_blocks))
