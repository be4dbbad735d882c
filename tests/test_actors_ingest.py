"""The ingest actor's Ray-free core: events + sweeps -> complete / bad candidates, each once."""

import time

import pytest

pytest.importorskip("ray")

from streamcal.actors.ingest_actor import Candidates  # noqa: E402
from streamcal.testing import FakeClock  # noqa: E402


def test_candidates(tmp_path, fgs_like):
    landing = tmp_path / "in"
    (landing / "sub").mkdir(parents=True)
    good = landing / "sub" / "a_uncal.fits"
    good.write_bytes(fgs_like)
    (landing / ".hidden.fits.tmp1").write_bytes(fgs_like)
    (landing / "junk_uncal.fits").write_bytes(b"definitely not FITS" * 300)
    half = landing / "half_uncal.fits"
    half.write_bytes(fgs_like[:2880])
    clock = FakeClock(time.time() + 60)  # it also dates files: keep it after their mtimes
    core = Candidates(landing, stability_seconds=1e9, incomplete_timeout=5, clock=clock)
    out = {c["path"]: c for c in core.check(do_sweep=True)}
    assert out[str(good)]["kind"] == "ok" and len(out[str(good)]["sha256"]) == 64
    assert out[str(landing / "junk_uncal.fits")]["kind"] == "bad"
    assert set(out) == {str(good), str(landing / "junk_uncal.fits")}   # hidden ignored, half pending
    again = core.check(do_sweep=True)      # a bad file is reported until quarantine moves it
    assert [c["path"] for c in again] == [str(landing / "junk_uncal.fits")]
    (landing / "junk_uncal.fits").unlink()
    assert core.check(do_sweep=True) == []                               # the good one never twice
    half.write_bytes(fgs_like)                                           # the writer finishes
    core.notify(half)
    (done,) = core.check()
    assert done["path"] == str(half) and done["kind"] == "ok"
    half2 = landing / "half2_uncal.fits"
    half2.write_bytes(fgs_like[:2880])
    assert core.check(do_sweep=True) == []
    clock.advance(10)
    (late,) = core.check()
    assert late["kind"] == "bad" and late["check"] == "incomplete"


@pytest.fixture
def fgs_like():
    import io

    import numpy as np
    from astropy.io import fits

    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 8, 8), np.uint16), name="SCI")]).writeto(buf)
    return buf.getvalue()
