"""Example analysis pipeline: HMI magnetograms -> total unsigned magnetic flux -> plot artifact.

It composes the library flow ``jsoc_fetch`` (a subflow run) with plain analysis tasks that take the
typed ``FetchResult``, the way a larger solar-analysis pipeline would.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from astropy.io import fits
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from prefect_jsoc.flows import jsoc_fetch
from prefect_jsoc.query import JsocQuery

#: One arcsecond at disk centre is about 725 km on the Sun; pixel areas below use this.
KM_PER_ARCSEC = 725.0


def unsigned_flux(path: Path) -> dict:
    """Total unsigned flux (Mx) of one magnetogram, from |B| summed over on-disk pixels."""
    with fits.open(path) as hdul:
        hdu = next(h for h in hdul if getattr(h, "data", None) is not None and h.data.ndim == 2)
        data = np.nan_to_num(np.asarray(hdu.data, dtype=np.float64))
        header = hdu.header
    cdelt = abs(float(header.get("CDELT1", 0.5)))
    pixel_area_cm2 = (cdelt * KM_PER_ARCSEC * 1e5) ** 2
    return {
        "T_REC": str(header.get("T_REC", path.name)),
        "file": path.name,
        "flux_Mx": float(np.abs(data).sum() * pixel_area_cm2),
    }


@task(name="unsigned-flux", task_run_name="unsigned-flux · {label}")
def flux_series(paths: list[Path], label: str) -> list[dict]:
    """Unsigned flux of every magnetogram, in time order."""
    rows = [unsigned_flux(Path(p)) for p in paths if str(p).endswith(".fits")]
    return sorted(rows, key=lambda row: row["T_REC"])


@task(name="plot-flux", task_run_name="plot-flux · {label}")
def plot_flux(rows: list[dict], label: str, output: Path) -> Path:
    """Plot the flux time series to ``output`` and publish it as artifacts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(range(len(rows)), [r["flux_Mx"] for r in rows], marker="o")
    ax.set_xticks(range(len(rows)), [r["T_REC"][11:19] for r in rows], rotation=45, fontsize=7)
    ax.set_ylabel("unsigned flux (Mx)")
    ax.set_title(f"Total unsigned flux, {label}")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=90)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=70)
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    create_markdown_artifact(
        key="hmi-flux-plot",
        markdown=f"## Unsigned flux, {label}\n\n![flux](data:image/png;base64,{encoded})\n\nSaved to `{output}`.",
        description="Total unsigned flux time series",
    )
    create_table_artifact(key="hmi-flux-values", table=rows, description=f"Unsigned flux, {label}")
    return output


@flow(name="hmi-flux-pipeline", flow_run_name="flux · {series} · {start}")
def flux_pipeline(
    start: str = "2014-01-01T00:00:00",
    end: str = "2014-01-01T02:00:00",
    series: str = "hmi.m_720s",
    sample: str | None = None,
    path: str = "data/flux",
) -> list[dict]:
    """Fetch HMI magnetograms, compute their total unsigned flux and plot it.

    Returns:
        One row per magnetogram: ``T_REC``, ``file`` and ``flux_Mx``.
    """
    query = JsocQuery(series=series, start=start, end=end, sample=sample, segments=["magnetogram"])
    fetched = jsoc_fetch(query, path=path)
    rows = flux_series(fetched.files, label=query.label)
    plot_flux(rows, label=query.label, output=Path(path) / "flux.png")
    return rows
