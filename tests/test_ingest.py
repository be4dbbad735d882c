"""Ingest without Ray: ignored names, the FITS readiness check, sweep, pending files, the watcher.

Real files in ``tmp_path`` and real watchdog threads; short intervals so the file runs in seconds.
"""

from __future__ import annotations

import io
import os
import queue
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from streamcal.ingest import (LandingWatcher, PendingFiles, Status, content_sha256, group_by_content,
                              inspect, is_ignored, looks_like_fits_name, scan_layout, sweep)
from streamcal.boundary.layout import BLOCK, LayoutError, data_size

OLD = 3600.0  # seconds: "long unchanged"


def fits_bytes(nints: int = 2, ngroups: int = 3, ny: int = 8, nx: int = 8) -> bytes:
    """A small JWST-shaped file: empty primary, 4-D SCI, a GROUP table."""
    primary = fits.PrimaryHDU()
    primary.header["EXP_TYPE"] = "NRC_IMAGE"
    sci = fits.ImageHDU(np.arange(nints * ngroups * ny * nx, dtype=np.uint16).reshape(nints, ngroups, ny, nx),
                        name="SCI")
    group = fits.BinTableHDU.from_columns([fits.Column("integration_number", "I", array=np.arange(nints))],
                                          name="GROUP")
    buf = io.BytesIO()
    fits.HDUList([primary, sci, group]).writeto(buf)
    return buf.getvalue()


def write(path: Path, data: bytes, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    return path


def header_only(**cards) -> bytes:
    """A primary header (no data written) with the given cards."""
    header = fits.Header([("SIMPLE", True)] + list(cards.items()))
    return header.tostring().encode("ascii")


def wait_for(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture
def landing(tmp_path) -> Path:
    d = tmp_path / "landing"
    d.mkdir()
    return d


# ---------------------------------------------------------------- names

class TestIsIgnored:
    @pytest.mark.parametrize("name", [".hidden.fits", ".jw01_uncal.fits.Xa8b2Q", "a.fits.part", "a.tmp",
                                      ".a.fits.swp", "a.fits.swp", "a.fits~", "A.FITS.PART"])
    def test_ignored(self, name):
        assert is_ignored(Path("/land") / name)

    @pytest.mark.parametrize("name", ["jw01_uncal.fits", "notes.txt", "a.fits.gz", "part.fits"])
    def test_kept(self, name):
        assert not is_ignored(Path("/land") / name)

    def test_fits_names(self):
        assert looks_like_fits_name("a_uncal.fits") and looks_like_fits_name("B.FITS.GZ")
        assert not looks_like_fits_name("a.txt")

    def test_hidden_directory_below_landing_only(self):
        assert is_ignored("/land/.staging/a.fits", "/land")
        assert not is_ignored("/home/u/.cache/land/a.fits", "/home/u/.cache/land")


# ---------------------------------------------------------------- layout and inspect

class TestLayout:
    def test_complete_file(self):
        data = fits_bytes()
        layout = scan_layout(io.BytesIO(data), len(data), max_bytes=2**30)
        assert layout.complete and len(layout.hdu_ends) == 3 and layout.hdu_ends[-1] == len(data)

    def test_every_prefix_is_incomplete_never_bad(self):
        data = fits_bytes()
        for n in range(1, len(data), 997):
            layout = scan_layout(io.BytesIO(data[:n]), n, max_bytes=2**30)
            assert not layout.complete and layout.declared >= n

    def test_data_size_follows_the_standard(self):
        def cards(**kw):
            return {k: f"{k:<8}= {v:>20}".encode() for k, v in kw.items()}
        # 2 x 3 x 4 int16 image: 48 bytes; table 10 rows x 12 bytes + 100 heap bytes
        assert data_size(cards(BITPIX=16, NAXIS=3, NAXIS1=2, NAXIS2=3, NAXIS3=4), 0) == 48
        assert data_size(cards(BITPIX=8, NAXIS=2, NAXIS1=12, NAXIS2=10, PCOUNT=100, GCOUNT=1), 1) == 220
        assert data_size(cards(BITPIX=-32, NAXIS=2, NAXIS1=0, NAXIS2=5, GROUPS="T", PCOUNT=2, GCOUNT=3), 0) == 84
        with pytest.raises(LayoutError, match="BITPIX"):
            data_size(cards(BITPIX=12, NAXIS=0), 0)


class TestInspect:
    def test_complete_file_is_ok(self, landing):
        data = fits_bytes()
        r = inspect(write(landing / "a_uncal.fits", data), landing)
        assert r.ok and r.check == "layout" and r.size == r.declared == len(data)

    def test_partial_file_incomplete_then_truncated_when_stable(self, landing):
        data = fits_bytes()
        p = write(landing / "a_uncal.fits", data[: 2 * BLOCK + 100])  # inside the SCI data
        r = inspect(p, landing, stable_seconds=2.0)
        assert r.incomplete and r.declared > r.size
        r = inspect(p, landing, stable_seconds=2.0, now=time.time() + 10)
        assert r.bad and r.check == "truncated" and "unchanged for" in r.reason

    def test_partial_header_is_incomplete(self, landing):
        p = write(landing / "a_uncal.fits", fits_bytes()[:1000])
        r = inspect(p, landing)
        assert r.incomplete and "no END card" in r.reason

    def test_zero_byte(self, landing):
        p = write(landing / "empty.fits", b"")
        assert inspect(p, landing).incomplete
        r = inspect(p, landing, now=time.time() + OLD)
        assert r.bad and r.check == "empty"

    @pytest.mark.parametrize("data", [b"hello, not FITS\n" * 300, b"\x89PNG\r\n", b"SIMPLE  =                    F" + b" " * 2850,
                                      b"\0" * 2880])
    def test_not_fits_is_bad_at_once(self, landing, data):
        r = inspect(write(landing / "x.fits", data), landing)
        assert r.bad and r.check == "fits" and "not FITS" in r.reason

    def test_junk_after_last_hdu(self, landing):
        r = inspect(write(landing / "x.fits", fits_bytes() + b"garbage" * 500), landing)
        assert r.bad and r.check == "fits" and "XTENSION" in r.reason

    def test_non_ascii_header(self, landing):
        data = bytearray(fits_bytes())
        data[200] = 0xE9
        r = inspect(write(landing / "x.fits", bytes(data)), landing)
        assert r.bad and "non-ASCII" in r.reason

    def test_enormous_declared_array_is_bad_at_once(self, landing):
        # 100000^3 float64 = 8 PB: rejected from a 2880-byte header, nothing allocated
        data = header_only(BITPIX=-64, NAXIS=3, NAXIS1=100000, NAXIS2=100000, NAXIS3=100000)
        r = inspect(write(landing / "huge.fits", data), landing)
        assert r.bad and r.check == "size" and "GiB" in r.reason

    def test_enormous_limit_is_configurable(self, landing):
        p = write(landing / "a.fits", fits_bytes())
        r = inspect(p, landing, max_bytes=BLOCK * 2)
        assert r.bad and r.check == "size"

    def test_directory_is_bad(self, landing):
        (landing / "dir_uncal.fits").mkdir()
        r = inspect(landing / "dir_uncal.fits", landing)
        assert r.bad and r.check == "regular_file" and "directory" in r.reason

    def test_fifo_is_bad_never_opened(self, landing):
        os.mkfifo(landing / "pipe.fits")
        r = inspect(landing / "pipe.fits", landing)  # would block forever if opened
        assert r.bad and "named pipe" in r.reason

    def test_symlink_outside_is_bad_never_followed(self, landing, tmp_path):
        outside = tmp_path / "secret"
        os.mkfifo(outside)  # following the link would block
        (landing / "link.fits").symlink_to(outside)
        r = inspect(landing / "link.fits", landing)
        assert r.bad and r.check == "symlink" and "outside the landing directory" in r.reason

    def test_symlink_inside_is_bad_too(self, landing):
        write(landing / "real.fits", fits_bytes())
        (landing / "link.fits").symlink_to(landing / "real.fits")
        r = inspect(landing / "link.fits", landing)
        assert r.bad and r.check == "symlink" and "never followed" in r.reason

    def test_file_under_symlinked_directory_outside(self, landing, tmp_path):
        write(tmp_path / "elsewhere" / "a.fits", fits_bytes())
        (landing / "sub").symlink_to(tmp_path / "elsewhere")
        r = inspect(landing / "sub" / "a.fits", landing)
        assert r.bad and r.check == "symlink"

    def test_gone(self, landing):
        assert inspect(landing / "nope.fits", landing).status is Status.GONE

    def test_empty_primary_only_waits_for_stability(self, landing):
        buf = io.BytesIO()
        fits.PrimaryHDU().writeto(buf)
        p = write(landing / "a.fits", buf.getvalue())
        assert inspect(p, landing).incomplete
        r = inspect(p, landing, now=time.time() + OLD)
        assert r.ok and r.check == "stable"

    def test_settle_seconds(self, landing):
        p = write(landing / "a.fits", fits_bytes())
        assert inspect(p, landing, settle_seconds=1.0).incomplete
        assert inspect(p, landing, settle_seconds=1.0, now=time.time() + 2).ok


def test_real_jwst_file_ok_and_every_cut_incomplete(tmp_path, fgs_acq1):
    """An archive _uncal (with its ASDF table and heap): ok whole, incomplete when cut anywhere."""
    data = fgs_acq1.read_bytes()
    r = inspect(write(tmp_path / "a_uncal.fits", data), tmp_path)
    assert r.ok and r.declared == len(data)
    for n in (100, 2880, 5000, len(data) // 2, len(data) - 2880, len(data) - 1):
        r = inspect(write(tmp_path / "b_uncal.fits", data[:n]), tmp_path)
        assert r.incomplete, (n, r)


class TestHostileFiles:
    """The input boundary's rules applied at landing: what the readers would refuse is bad here
    already, with the same check, so it is quarantined before any worker sees it."""

    @pytest.mark.parametrize("how", ["RICE_1", "GZIP_2", "HCOMPRESS_1", "PLIO_1"])
    def test_tile_compressed_is_bad_at_once(self, landing, how):
        hdul = fits.open(io.BytesIO(fits_bytes(nints=1, ngroups=1)))
        data = hdul["SCI"].data.astype(np.int32)
        hdul["SCI"] = fits.CompImageHDU(data, name="SCI", compression_type=how, tile_shape=(1, 1, 8, 8))
        hdul.writeto(landing / "c_uncal.fits")
        r = inspect(landing / "c_uncal.fits", landing, stable_seconds=OLD)
        assert r.bad and r.check == "compressed" and how in r.reason

    @pytest.mark.parametrize("name", ["na\u00efve_uncal.fits", "x" * 201 + ".fits", "new\nline_uncal.fits"])
    def test_odd_names_are_bad(self, landing, name):
        r = inspect(write(landing / name, fits_bytes()), landing, stable_seconds=OLD)
        assert r.bad and r.check == "name"

    def test_gzip_under_a_fits_name_is_not_fits(self, landing):
        import gzip

        r = inspect(write(landing / "g_uncal.fits", gzip.compress(fits_bytes())), landing, stable_seconds=OLD)
        assert r.bad and r.check == "fits"

    def test_header_without_end_is_bad_after_bounded_reading(self, landing):
        data = bytearray(header_only(BITPIX=8, NAXIS=0, EXTEND=True))
        end = data.find(b"END" + b" " * 77)
        data[end:end + 80] = b"COMMENT".ljust(80)  # the header never ends: 16 MB of cards follow
        start = time.perf_counter()
        r = inspect(write(landing / "n_uncal.fits", bytes(data) + b"HISTORY x".ljust(80) * 200_000), landing)
        assert r.bad and r.check == "fits" and "no END card" in r.reason
        assert time.perf_counter() - start < 1.0

    def test_layout_summarises_each_hdu(self):
        data = fits_bytes(nints=2, ngroups=3, ny=8, nx=8)
        layout = scan_layout(io.BytesIO(data), len(data), max_bytes=2**30)
        sci = layout.hdus[1]
        assert (sci.extname, sci.xtension, sci.bitpix, sci.axes, sci.compression) == ("SCI", "IMAGE", 16, (8, 8, 3, 2), "")
        assert sci.data_bytes == 2 * 3 * 8 * 8 * 2 and layout.hdus[2].xtension == "BINTABLE"


class TestContentSha256:
    def test_same_content_other_name_is_a_duplicate(self, landing):
        data = fits_bytes()
        a = write(landing / "a.fits", data)
        b = write(landing / "sub" / "b_copy.fits", data)
        c = write(landing / "c.fits", fits_bytes(nints=3))
        assert content_sha256(a) == content_sha256(b) != content_sha256(c)
        assert content_sha256(a, chunk=7) == content_sha256(a)  # chunking does not matter
        groups = group_by_content([a, c, b])
        assert sorted(len(v) for v in groups.values()) == [1, 2]
        assert groups[content_sha256(a)] == [a, b]

    def test_refuses_symlinks(self, landing):
        write(landing / "a.fits", b"x")
        (landing / "l.fits").symlink_to(landing / "a.fits")
        with pytest.raises(OSError):
            content_sha256(landing / "l.fits")


# ---------------------------------------------------------------- sweep

def test_sweep_finds_preexisting_files_and_skips_temporaries(landing):
    write(landing / "a.fits", b"x")
    write(landing / "night1" / "b.fits", b"x")
    write(landing / "notes.txt", b"x")
    write(landing / ".a.fits.Xy12Z", b"x")
    write(landing / "c.fits.part", b"x")
    write(landing / ".staging" / "d.fits", b"x")
    (landing / "dir_uncal.fits").mkdir()
    write(landing / "dir_uncal.fits" / "inner.fits", b"x")  # not descended: the directory is the candidate
    (landing / "link.fits").symlink_to("/etc")
    (landing / "dangling.fits").symlink_to(landing / "nowhere")
    names = [p.relative_to(landing).as_posix() for p in sweep(landing)]
    assert names == ["a.fits", "dangling.fits", "dir_uncal.fits", "link.fits", "night1/b.fits", "notes.txt"]


# ---------------------------------------------------------------- pending files

class FakeClock:
    def __init__(self):
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


class TestPendingFiles:
    def test_slow_write_is_seen_incomplete_then_released_once(self, landing):
        clock = FakeClock()
        pending = PendingFiles(landing, stable_seconds=2.0, timeout=60, clock=clock)
        data = fits_bytes()
        p = landing / "a.fits"
        with open(p, "wb") as f:
            for k in range(0, len(data), 2000):
                f.write(data[k:k + 2000])
                f.flush()
                clock.t += 0.5
                os.utime(p, (clock.t, clock.t))  # the writer works on the fake clock
                if k + 2000 < len(data):
                    assert pending.submit(p) is None and p in pending
                    assert pending.recheck() == []
        released = pending.recheck()
        assert [r.path for r in released] == [p] and released[0].ok and len(pending) == 0
        assert pending.submit(p) is None and pending.recheck() == []  # released exactly once
        pending.forget(p)
        assert pending.submit(p).ok  # forgotten: released again (the ledger deduplicates)

    def test_truncated_file_released_bad_once_stable(self, landing):
        clock = FakeClock()
        pending = PendingFiles(landing, stable_seconds=2.0, timeout=60, clock=clock)
        p = write(landing / "a.fits", fits_bytes()[:4000])
        assert pending.submit(p) is None
        clock.t += 1
        assert pending.recheck() == []
        clock.t += 2
        (r,) = pending.recheck()
        assert r.bad and r.check == "truncated"

    def test_never_waits_forever(self, landing):
        clock = FakeClock()
        pending = PendingFiles(landing, stable_seconds=2.0, timeout=30, clock=clock)
        p = landing / "a.fits"
        data = fits_bytes()
        released = []
        for k in range(40):  # a writer that keeps the file changing: never stable, never complete
            write(p, data[: 1000 + k])
            os.utime(p, (clock.t, clock.t))
            out = pending.submit(p) if k == 0 else pending.recheck()
            released.extend([out] if k == 0 and out else out or [])
            clock.t += 1.0
        (r,) = released
        assert r.bad and r.check == "incomplete" and "incomplete for 30 s" in r.reason
        assert p not in pending

    def test_timeout_reason(self, landing):
        clock = FakeClock()
        pending = PendingFiles(landing, timeout=30, clock=clock, stable_seconds=1e9)
        p = write(landing / "a.fits", fits_bytes()[:4000])
        assert pending.submit(p) is None
        clock.t += 31
        (r,) = pending.recheck()
        assert r.bad and r.check == "incomplete" and r.reason.startswith("incomplete for 31 s: truncated?")

    def test_vanished_file_is_dropped(self, landing):
        pending = PendingFiles(landing)
        p = write(landing / "a.fits", fits_bytes()[:100])
        assert pending.submit(p) is None and len(pending) == 1
        p.unlink()
        assert pending.recheck() == [] and len(pending) == 0

    def test_bad_at_once(self, landing):
        r = PendingFiles(landing).submit(write(landing / "x.fits", b"not fits" * 100))
        assert r.bad and r.check == "fits"


# ---------------------------------------------------------------- the watcher (real threads)

class Collector:
    """What the ingest actor does: on_candidate only enqueues; the owner thread inspects."""

    def __init__(self, landing: Path, **kw):
        self.q: queue.Queue[Path] = queue.Queue()
        self.seen: list[Path] = []
        self.pending = PendingFiles(landing, **kw)
        self.released: list = []
        self.threads: set[str] = set()

    def on_candidate(self, path: Path) -> None:
        self.threads.add(threading.current_thread().name)
        self.q.put(path)

    def drain(self) -> list:
        while True:
            try:
                p = self.q.get_nowait()
            except queue.Empty:
                break
            self.seen.append(p)
            if (r := self.pending.submit(p)) is not None:
                self.released.append(r)
        self.released.extend(self.pending.recheck())
        return self.released

    def wait_released(self, n: int, timeout: float = 5.0) -> list:
        wait_for(lambda: len(self.drain()) >= n, timeout)
        time.sleep(0.3)  # late duplicates would show up here
        return self.drain()


def test_watcher_atomic_rename_and_rsync_temp(landing):
    col = Collector(landing)
    with LandingWatcher(landing, col.on_candidate, poll_interval=0.1) as w:
        assert w.running
        write(landing / "a.fits.part", fits_bytes())
        os.rename(landing / "a.fits.part", landing / "a.fits")
        write(landing / ".b.fits.Qx81Zz", fits_bytes(nints=3))  # rsync: hidden temporary, then rename
        os.rename(landing / ".b.fits.Qx81Zz", landing / "b.fits")
        released = col.wait_released(2)
    assert not w.running
    assert sorted(r.path.name for r in released) == ["a.fits", "b.fits"] and all(r.ok for r in released)
    assert all(not is_ignored(p) for p in col.seen)  # temporaries never reported
    assert threading.current_thread().name not in col.threads  # called from the observer thread


def test_watcher_rename_in_from_unwatched_directory(tmp_path, landing):
    stage = tmp_path / "stage"
    write(stage / "c.fits", fits_bytes())
    write(stage / "batch" / "d.fits", fits_bytes(nints=4))
    col = Collector(landing)
    with LandingWatcher(landing, col.on_candidate, poll_interval=0.1):
        os.rename(stage / "c.fits", landing / "c.fits")  # only a created event
        os.rename(stage / "batch", landing / "batch")  # a whole directory moved in
        released = col.wait_released(2)
    assert sorted(r.path.relative_to(landing).as_posix() for r in released) == ["batch/d.fits", "c.fits"]


def test_watcher_slow_chunked_write_released_once_complete(landing):
    col = Collector(landing)
    data = fits_bytes(ngroups=20, ny=32, nx=32)
    p = landing / "slow.fits"
    with LandingWatcher(landing, col.on_candidate, poll_interval=0.1):
        with open(p, "wb") as f:
            for k in range(0, len(data), len(data) // 5 + 1):
                f.write(data[k:k + len(data) // 5 + 1])
                f.flush()
                seen = col.pending.submit(p)  # a sweep mid-write sees it incomplete
                assert seen is None or k + len(data) // 5 + 1 >= len(data)
                if seen is not None:
                    col.released.append(seen)
                time.sleep(0.05)
        released = col.wait_released(1)
    assert [r.path for r in released] == [p] and released[0].ok and released[0].size == len(data)


def test_polling_watcher_half_written_file(landing):
    col = Collector(landing)
    data = fits_bytes(ngroups=10)
    p = landing / "poll.fits"
    with LandingWatcher(landing, col.on_candidate, polling=True, poll_interval=0.05):
        with open(p, "wb") as f:
            f.write(data[:3000])
            f.flush()
            assert wait_for(lambda: col.q.qsize() > 0, 3)  # created at the first poll, half-written
            assert col.drain() == [] and p in col.pending
            f.write(data[3000:])
        released = col.wait_released(1)
    assert [r.path for r in released] == [p] and released[0].ok
    assert len(col.seen) >= 2  # created, then modified


def test_watcher_reports_bad_inputs_too(landing, tmp_path):
    col = Collector(landing)
    with LandingWatcher(landing, col.on_candidate, poll_interval=0.1):
        write(landing / "junk.fits", b"definitely not FITS" * 10)
        huge = tmp_path / "huge.fits"
        write(huge, header_only(BITPIX=16, NAXIS=2, NAXIS1=10**7, NAXIS2=10**7))
        shutil.move(huge, landing / "huge.fits")
        (landing / "out.fits").symlink_to(tmp_path)  # created event for the link itself
        released = col.wait_released(3)
    verdicts = {r.path.name: r.check for r in released}
    assert verdicts == {"junk.fits": "fits", "huge.fits": "size", "out.fits": "symlink"}


def test_watcher_start_stop_idempotent(landing):
    w = LandingWatcher(landing, print, poll_interval=0.05)
    assert not w.running
    assert w.start() is w.start() and w.running
    w.stop()
    w.stop()
    assert not w.running


def test_watcher_survives_a_failing_consumer(landing):
    calls = []

    def flaky(path):
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("consumer bug")

    with LandingWatcher(landing, flaky, poll_interval=0.05) as w:
        write(landing / "a.fits", b"x")
        assert wait_for(lambda: calls)
        write(landing / "b.fits", b"x")
        assert wait_for(lambda: any(p.name == "b.fits" for p in calls)) and w.running


def test_watcher_needs_a_directory(tmp_path):
    with pytest.raises(NotADirectoryError):
        LandingWatcher(tmp_path / "missing", print)


def test_inspect_asn(tmp_path):
    """An association file is ok once it parses as an ASN; invalid JSON waits for
    ``stable_seconds`` (a writer may be mid-way), then is bad; oversize is bad at once."""
    import json

    from streamcal.ingest import Status, inspect_asn

    good = tmp_path / "jw01234-o001_image3_00001_asn.json"
    good.write_text(json.dumps({"products": [{"name": "p", "members": [{"expname": "a_cal.fits",
                                                                       "exptype": "science"}]}]}))
    assert inspect_asn(good, tmp_path).status is Status.OK
    half = tmp_path / "half_asn.json"
    half.write_text('{"products": [{"name": "p", "memb')
    assert inspect_asn(half, tmp_path, stable_seconds=60).status is Status.INCOMPLETE
    later = inspect_asn(half, tmp_path, stable_seconds=60, now=time.time() + 61)
    assert later.status is Status.BAD and later.check == "asn"
    big = tmp_path / "big_asn.json"
    with open(big, "wb") as fh:
        fh.truncate(5 << 20)
    assert inspect_asn(big, tmp_path).check == "size"
    os.symlink(good, tmp_path / "link_asn.json")
    assert inspect_asn(tmp_path / "link_asn.json", tmp_path).check == "symlink"
