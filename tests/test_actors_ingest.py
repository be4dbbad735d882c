"""The ingest actor's Ray-free core: events + sweeps -> complete / bad candidates, each once."""

import time

import pytest

pytest.importorskip("ray")

from streamcal.actors.ingest_actor import Candidates  # noqa: E402
from streamcal.flow import ArrivalKind  # noqa: E402
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
    out = {c.path: c for c in core.check(do_sweep=True)}
    assert out[str(good)].kind is ArrivalKind.EXPOSURE and len(out[str(good)].sha256) == 64
    assert out[str(good)].route is None and out[str(good)].check == "exp_type"   # routed here: no EXP_TYPE
    assert out[str(landing / "junk_uncal.fits")].kind is ArrivalKind.BAD
    assert set(out) == {str(good), str(landing / "junk_uncal.fits")}   # hidden ignored, half pending
    again = core.check(do_sweep=True)      # a bad file is reported until quarantine moves it
    assert [c.path for c in again] == [str(landing / "junk_uncal.fits")]
    (landing / "junk_uncal.fits").unlink()
    assert core.check(do_sweep=True) == []                               # the good one never twice
    half.write_bytes(fgs_like)                                           # the writer finishes
    core.notify(half)
    (done,) = core.check()
    assert done.path == str(half) and done.kind is ArrivalKind.EXPOSURE
    half2 = landing / "half2_uncal.fits"
    half2.write_bytes(fgs_like[:2880])
    assert core.check(do_sweep=True) == []
    clock.advance(10)
    (late,) = core.check()
    assert late.kind is ArrivalKind.BAD and late.check == "incomplete"


@pytest.fixture
def fgs_like():
    import io

    import numpy as np
    from astropy.io import fits

    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 8, 8), np.uint16), name="SCI")]).writeto(buf)
    return buf.getvalue()


def test_candidates_hand_on_new_bytes_under_a_known_name(tmp_path, fgs_like):
    """A path already handed on is skipped while unchanged; new bytes renamed over it (or
    rewritten in place) are inspected and handed on again; a path known from an earlier run
    (ledger time) is skipped unless touched after that time."""
    import os

    landing = tmp_path / "in"
    landing.mkdir()
    path = landing / "a_uncal.fits"
    path.write_bytes(fgs_like)
    core = Candidates(landing, stability_seconds=1e9)
    (first,) = core.check(do_sweep=True)
    assert core.check(do_sweep=True) == []                     # unchanged: skipped
    other = bytearray(fgs_like)
    other[-1] = 7                                              # same size, other content
    staged = tmp_path / "a_uncal.fits"
    staged.write_bytes(bytes(other))
    os.replace(staged, path)                                   # renamed over the known name
    (second,) = core.check(do_sweep=True)
    assert second.path == first.path and second.sha256 != first.sha256
    assert core.check(do_sweep=True) == []

    fresh = Candidates(landing, stability_seconds=1e9)        # a restart: the ledger's times
    fresh.set_known({str(path): time.time() + 5})             # recorded after the last change
    assert fresh.check(do_sweep=True) == []
    fresh.set_known({})
    fresh.known[str(path)] = time.time() - 3600               # recorded before the file changed
    (again,) = fresh.check(do_sweep=True)
    assert again.sha256 == second.sha256


@pytest.mark.parametrize("card,value,check,said", [("NFRAMES", 2 ** 31, "keywords", "NFRAMES"),
                                                   ("NGROUPS", "ten", "keywords", "NGROUPS"),
                                                   ("SUBSTRT1", 2000, "window", "SUBSTRT=(2000,")])
def test_a_bad_exposure_header_is_refused_at_landing(tmp_path, refs, card, value, check, said):
    """Exposure keywords are checked where the header is read for routing: a file its stage-1 read
    would refuse is handed on unroutable (quarantined at once), not to a worker."""
    from astropy.io import fits

    from streamcal.sim import simulate_to_directory

    landing = tmp_path / "in"
    (raw,) = simulate_to_directory(tmp_path / "sim", detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P",
                                   ngroups=2, refs=refs)
    landing.mkdir()
    good, bad = landing / raw.name, landing / raw.name.replace("00001", "00002")
    good.write_bytes(raw.read_bytes())
    with fits.open(raw) as hdul:
        hdul[0].header[card] = value
        hdul.writeto(bad)
    core = Candidates(landing, stability_seconds=0.0, clock=FakeClock(time.time() + 60))
    out = {c.path: c for c in core.check(do_sweep=True)}
    assert out[str(good)].route is not None
    assert out[str(bad)].route is None and out[str(bad)].check == check and said in out[str(bad)].reason
