"""Shared fixtures.  The synthetic reference set lives in its normal cache
(``$STREAMCAL_REFS`` or ``~/.cache/streamcal/refs``): deterministic files, generated on first
use and written atomically, so test sessions share them safely."""

from __future__ import annotations

from pathlib import Path

import pytest

EXTDATA = Path(__file__).resolve().parents[2] / "shared" / "extdata"


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
