"""deployments/prefect.yaml: every entrypoint loads, parameters fit the flows, and it deploys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = ROOT / "deployments" / "prefect.yaml"


def deployments() -> list[dict]:
    return yaml.safe_load(DEPLOYMENTS.read_text())["deployments"]


@pytest.mark.parametrize("deployment", deployments(), ids=lambda d: d["name"])
def test_each_deployment_loads_and_its_parameters_fit_the_flow(deployment: dict, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    schema = parameter_schema(flow).model_dump_for_openapi()
    jsonschema.validate(deployment.get("parameters", {}), schema)
    for schedule in deployment.get("schedules", []):
        CronSchedule(cron=schedule["cron"], timezone=schedule.get("timezone"))
    assert deployment["work_pool"]["name"] == "jsoc-local"


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_prefect_deploy_all_registers_every_deployment_with_its_schedule() -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL

    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="jsoc-local", type="process"))
        except Exception:  # noqa: BLE001 - already exists from an earlier run in this session
            pass
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(DEPLOYMENTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with get_client(sync_client=True) as client:
        found = {d.name: d for d in client.read_deployments()}
    for expected in deployments():
        deployment = found[expected["name"]]
        assert deployment.entrypoint == expected["entrypoint"]
        assert len(deployment.schedules) == len(expected["schedules"])
        assert deployment.parameters == expected["parameters"]
