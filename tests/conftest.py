"""Shared fixtures.  The synthetic reference set is generated once per test session into a
temporary cache (``STREAMCAL_REFS``), which CLI subprocesses inherit."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

EXTDATA = Path(__file__).resolve().parents[2] / "shared" / "extdata"
os.environ.setdefault("STREAMCAL_REFS", tempfile.mkdtemp(prefix="streamcal-refs-"))


def extdata(*parts: str) -> Path:
    """Path into ``../shared/extdata``; skips the test with a clear reason when it is absent."""
    path = EXTDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real JWST data not available: {path} (expected ../shared/extdata beside the repo)")
    return path


@pytest.fixture(scope="session")
def refs():
    from streamcal.refs import ReferenceSet

    return ReferenceSet()


@pytest.fixture
def fgs_acq1() -> Path:
    return extdata("fits", "jw01019001001_gs-acq1_2022117003102_uncal.fits")
