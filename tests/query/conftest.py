"""Series layouts as ``validate`` builds them from the emulator catalogue (no network here)."""

from __future__ import annotations

import pytest

from prefect_jsoc.query import SeriesLayout


@pytest.fixture
def hmi() -> SeriesLayout:
    """``hmi.M_45s``: ``[T_REC][CAMERA]``, 45 s slots, T_REC printed in TAI."""
    return SeriesLayout(
        primekeys=("T_REC", "CAMERA"),
        time_primekeys=("T_REC",),
        keywords=("QUALITY",),
        segments=("magnetogram",),
        slot_steps={"T_REC": 45},
    )


@pytest.fixture
def aia() -> SeriesLayout:
    """``aia.lev1_euv_12s``: ``[T_REC][WAVELNTH]``, 12 s slots, T_REC printed in UTC ISO."""
    return SeriesLayout(
        primekeys=("T_REC", "WAVELNTH"),
        time_primekeys=("T_REC",),
        keywords=("QUALITY", "EXPTIME"),
        segments=("image", "spikes"),
        slot_steps={"T_REC": "12s"},
    )


@pytest.fixture
def sharp() -> SeriesLayout:
    """``hmi.sharp_720s``: ``[HARPNUM][T_REC]``, 720 s slots."""
    return SeriesLayout(
        primekeys=("HARPNUM", "T_REC"),
        time_primekeys=("T_REC",),
        keywords=("HARPNUM", "T_REC", "QUALITY"),
        segments=("magnetogram", "Bp"),
        slot_steps={"T_REC": 720},
    )


@pytest.fixture(autouse=True)
def isolated_state_dir() -> None:
    """Replaces the suite-wide Prefect isolation (about 0.4 s a test): the query package uses no Prefect."""
