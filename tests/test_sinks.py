"""Sinks: event log, Parquet product table, quarantine, FITS products recorded once."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from astropy.io import fits

from streamcal.ledger import Ledger
from streamcal.provenance import sha256_file
from streamcal.sinks import EVENTS, EventLog, FitsProductSink, ProductTable, quarantine, read_events
from streamcal.sinks.events import iso_utc
from streamcal.testing import FakeClock, ListEventSink, run_until_killed

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


class TestEventLog:
    def test_lines_and_fields(self, tmp_path):
        clock = FakeClock(T0)
        with EventLog(tmp_path / "log" / "events.jsonl", clock=clock) as log:
            log.write("landed", file="a_uncal.fits", detail={"size": 10})
            clock.advance(1.25)
            log.write("routed", file="a_uncal.fits", stage="calwebb_detector1")
        events = list(read_events(tmp_path / "log" / "events.jsonl"))
        assert [e["event"] for e in events] == ["landed", "routed"]
        assert events[0]["time"] == "2026-01-01T00:00:00.000Z" and events[0]["seconds"] == T0
        assert events[1]["time"] == "2026-01-01T00:00:01.250Z" and events[1]["stage"] == "calwebb_detector1"
        assert events[0]["detail"] == {"size": 10} and events[1]["detail"] == {}

    def test_appends_across_opens(self, tmp_path):
        for name in ("started", "finished"):
            with EventLog(tmp_path / "e.jsonl") as log:
                log.write(name, file="a")
        assert [e["event"] for e in read_events(tmp_path / "e.jsonl")] == ["started", "finished"]

    def test_unknown_event(self, tmp_path):
        with EventLog(tmp_path / "e.jsonl") as log, pytest.raises(ValueError, match="unknown event 'landd'"):
            log.write("landd")

    def test_torn_last_line_skipped_middle_corruption_raises(self, tmp_path):
        path = tmp_path / "e.jsonl"
        with EventLog(path) as log:
            log.write("landed", file="a")
        with open(path, "ab") as fh:
            fh.write(b'{"event": "rou')
        assert [e["event"] for e in read_events(path)] == ["landed"]
        with open(path, "ab") as fh:
            fh.write(b"\n")
        with pytest.raises(ValueError, match="corrupt event line"):
            list(read_events(path))

    def test_flushed_per_line_survives_sigkill(self, tmp_path):
        """Every line written before a SIGKILL is in the file (no buffering)."""
        path = tmp_path / "e.jsonl"
        code = f"""
from streamcal.sinks import EventLog
log = EventLog({str(path)!r})
i = 0
while True:
    log.write("landed", file=f"{{i}}.fits")
    print(i, flush=True)
    i += 1
"""
        lines = run_until_killed(code, kill_after=lambda seen: len(seen) >= 50)
        files = [e["file"] for e in read_events(path)]
        assert files[: len(lines)] == [f"{i}.fits" for i in range(len(lines))]

    def test_iso_utc(self):
        assert iso_utc(0.5) == "1970-01-01T00:00:00.500Z"
        assert "quarantined" in EVENTS


def _row(product, **kw):
    return {"file": "a_uncal.fits", "product": product, "suffix": "rate", "stage": "calwebb_detector1",
            "pipeline": "calwebb_detector1", "exp_type": "NRC_IMAGE", "instrument": "NIRCAM",
            "detector": "NRCA1", "sha256": "s", "size": 100, "seconds": 1.5, **kw}


class TestProductTable:
    def test_parts_and_read(self, tmp_path):
        clock = FakeClock(T0)
        table = ProductTable(tmp_path / "products.parquet.d", clock=clock)
        assert table.read().num_rows == 0 and table.flush() is None
        table.add(_row("/p/a_rate.fits"))
        table.add(_row("/p/a_rateints.fits", suffix="rateints"))
        assert len(table) == 2
        part = table.flush()
        assert part.name.startswith("part-") and part.suffix == ".parquet" and len(table) == 0
        clock.advance(3)
        table.write([_row("/p/b_rate.fits", file="b_uncal.fits", seconds=None)])
        assert len(list((tmp_path / "products.parquet.d").glob("part-*.parquet"))) == 2
        assert not [p for p in (tmp_path / "products.parquet.d").iterdir() if p.name.startswith(".")]
        got = table.read()
        assert got.column("product").to_pylist() == ["/p/a_rate.fits", "/p/a_rateints.fits", "/p/b_rate.fits"]
        assert got.column("seconds").to_pylist() == [1.5, 1.5, None]
        assert got.column("created_at")[2].as_py().timestamp() == T0 + 3
        # what a user does: plain pyarrow.dataset with a filter (or .to_pandas() with pandas)
        user = ds.dataset(tmp_path / "products.parquet.d", format="parquet")
        rates = user.to_table(filter=ds.field("suffix") == "rate", columns=["file", "exp_type"])
        assert rates.to_pylist() == [{"file": "a_uncal.fits", "exp_type": "NRC_IMAGE"},
                                     {"file": "b_uncal.fits", "exp_type": "NRC_IMAGE"}]

    def test_latest_row_per_product(self, tmp_path):
        clock = FakeClock(T0)
        table = ProductTable(tmp_path / "t", clock=clock)
        table.write([_row("/p/a_rate.fits", sha256="old")])
        clock.advance(1)
        table.write([_row("/p/a_rate.fits", sha256="new")])
        assert table.read().column("sha256").to_pylist() == ["new"]
        assert table.read(latest=False).num_rows == 2

    def test_bad_rows(self, tmp_path):
        table = ProductTable(tmp_path / "t")
        with pytest.raises(ValueError, match="unknown product table columns"):
            table.add({"product": "x", "colour": "red"})
        with pytest.raises(ValueError, match="'product' path"):
            table.add({"file": "x"})

    def test_hidden_temp_part_ignored(self, tmp_path):
        """A part being written (hidden name) is invisible to readers."""
        table = ProductTable(tmp_path / "t")
        table.write([_row("/p/a_rate.fits")])
        (tmp_path / "t" / ".part-x.parquet.123.part").write_bytes(b"half a parquet file")
        assert table.read().num_rows == 1


class TestQuarantine:
    def _reason(self, target: Path) -> dict:
        return json.loads(target.with_name(target.name + ".reason.json").read_text())

    def test_regular_file(self, tmp_path):
        src = tmp_path / "land" / "bad_uncal.fits"
        src.parent.mkdir()
        src.write_bytes(b"not fits")
        target = quarantine(src, tmp_path / "products", check="fits", reason="not a FITS file", when=T0)
        assert target == tmp_path / "products" / "quarantine" / "bad_uncal.fits"
        assert not src.exists() and target.read_bytes() == b"not fits"
        reason = self._reason(target)
        assert reason["file"] == "bad_uncal.fits" and reason["original_path"] == str(src)
        assert (reason["check"], reason["reason"]) == ("fits", "not a FITS file")
        assert reason["time"] == "2026-01-01T00:00:00.000Z" and reason["kind"] == "file"
        assert reason["size"] == 8
        assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]

    def test_zero_byte_and_name_taken(self, tmp_path):
        land = tmp_path / "land"
        land.mkdir()
        targets = []
        for _ in range(3):
            (land / "empty_uncal.fits").touch()
            targets.append(quarantine(land / "empty_uncal.fits", tmp_path, check="size", reason="zero bytes"))
        assert [t.name for t in targets] == ["empty_uncal.fits", "empty_uncal~1.fits", "empty_uncal~2.fits"]
        assert all(t.stat().st_size == 0 and self._reason(t)["size"] == 0 for t in targets)

    def test_symlink_moved_not_followed(self, tmp_path):
        outside = tmp_path / "outside.fits"
        outside.write_bytes(b"secret")
        link = tmp_path / "land" / "link_uncal.fits"
        link.parent.mkdir()
        link.symlink_to(outside)
        target = quarantine(link, tmp_path / "p", check="symlink", reason="points outside the landing directory")
        assert target.is_symlink() and os.readlink(target) == str(outside)
        assert outside.read_bytes() == b"secret" and not os.path.lexists(link)
        reason = self._reason(target)
        assert reason["kind"] == "symlink" and reason["link_target"] == str(outside)

    def test_dangling_symlink(self, tmp_path):
        link = tmp_path / "dangling.fits"
        link.symlink_to(tmp_path / "nowhere")
        target = quarantine(link, tmp_path / "p", check="symlink", reason="dangling")
        assert target.is_symlink() and not os.path.lexists(link)

    def test_directory(self, tmp_path):
        d = tmp_path / "land" / "adir_uncal.fits"
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "x").write_text("x")
        target = quarantine(d, tmp_path / "p", check="type", reason="a directory, not a file")
        assert (target / "sub" / "x").read_text() == "x" and not d.exists()
        assert self._reason(target)["kind"] == "directory" and self._reason(target)["size"] is None

    def test_missing(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="does not exist"):
            quarantine(tmp_path / "gone.fits", tmp_path, check="x", reason="y")

    @pytest.mark.parametrize("kind", ["file", "symlink", "directory"])
    def test_across_filesystems(self, tmp_path, monkeypatch, kind):
        """When rename fails with EXDEV the input is copied then removed, links kept as links."""
        src = tmp_path / "land" / "x_uncal.fits"
        src.parent.mkdir()
        if kind == "file":
            src.write_bytes(b"abc")
        elif kind == "symlink":
            src.symlink_to("/etc/hostname")
        else:
            src.mkdir()
            (src / "f").write_text("f")
            (src / "l").symlink_to("/etc/hostname")
        real_rename = os.rename

        def rename(a, b):
            if Path(a) == src:
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            return real_rename(a, b)

        monkeypatch.setattr(os, "rename", rename)
        target = quarantine(src, tmp_path / "p", check="c", reason="r")
        assert not os.path.lexists(src)
        if kind == "file":
            assert target.read_bytes() == b"abc"
        elif kind == "symlink":
            assert target.is_symlink() and os.readlink(target) == "/etc/hostname"
        else:
            assert (target / "f").read_text() == "f" and (target / "l").is_symlink()
        assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]

    def test_failed_move_releases_reservation(self, tmp_path, monkeypatch):
        src = tmp_path / "x.fits"
        src.write_bytes(b"x")
        monkeypatch.setattr(os, "rename", lambda a, b: (_ for _ in ()).throw(PermissionError("denied")))
        with pytest.raises(PermissionError):
            quarantine(src, tmp_path / "p", check="c", reason="r")
        assert src.exists() and list((tmp_path / "p" / "quarantine").iterdir()) == []


_RESULT_CODE = """
import numpy as np
from astropy.io import fits
from streamcal.models import ExposureMeta, ImageModel
from streamcal.pipelines.runner import PipelineResult, Product
from streamcal.provenance import Provenance


def _result(name="jw_test_uncal.fits", nints=2):
    \"\"\"A small detector1-like result with _rate and _rateints products.\"\"\"
    hdr = fits.Header(dict(INSTRUME="NIRCAM", DETECTOR="NRCA1", EXP_TYPE="NRC_IMAGE", NINTS=nints,
                           NGROUPS=3, NFRAMES=1, GROUPGAP=0, TFRAME=10.0, TGROUP=10.0, FILENAME=name))
    meta = ExposureMeta.from_header(hdr, (nints, 3, 4, 5))
    rng = np.random.default_rng(1)

    def image(shape):
        return ImageModel(meta=meta, header=hdr.copy(), data=rng.random(shape, np.float32),
                          err=np.ones(shape, np.float32), dq=np.zeros(shape, np.uint32),
                          var_poisson=np.ones(shape, np.float32), var_rnoise=np.ones(shape, np.float32))

    products = [Product("rate", image((4, 5)), "ImageModel"),
                Product("rateints", image((nints, 4, 5)), "CubeModel")]
    return PipelineResult("calwebb_detector1", products, Provenance("calwebb_detector1", name, "abc"))
"""
exec(_RESULT_CODE)  # defines _result here too, so the test and its subprocess build the same


class TestFitsProductSink:
    def test_writes_and_records(self, tmp_path):
        clock = FakeClock(T0)
        ledger = Ledger(tmp_path / "l.sqlite", clock=clock, synchronous="NORMAL")
        fid, _ = ledger.record_landed(tmp_path / "land" / "jw_test_uncal.fits", "h", 1)
        events = ListEventSink(clock=clock)
        table = ProductTable(tmp_path / "table", clock=clock)
        sink = FitsProductSink(tmp_path / "products", ledger, table=table, events=events, clock=clock)
        paths = sink.write(fid, _result(), "jw_test_uncal.fits", seconds=2.0)
        assert [p.name for p in paths] == ["jw_test_rate.fits", "jw_test_rateints.fits"]
        with fits.open(paths[0]) as hdul:
            assert hdul["SCI"].data.shape == (4, 5) and hdul[0].header["SC_PIPE"] == "calwebb_detector1"
        recorded = ledger.products(fid)
        assert [(p.path, p.suffix, p.stage) for p in recorded] == [
            (str(paths[0]), "rate", "calwebb_detector1"), (str(paths[1]), "rateints", "calwebb_detector1")]
        assert recorded[0].sha256 == sha256_file(paths[0])
        rows = table.read().to_pylist()
        assert [r["suffix"] for r in rows] == ["rate", "rateints"]
        assert rows[0]["file"] == "jw_test_uncal.fits" and rows[0]["size"] == paths[0].stat().st_size
        assert rows[1]["exp_type"] == "NRC_IMAGE" and rows[1]["seconds"] == 2.0
        assert events.names() == ["product", "product"] and events.events[0]["detail"]["new"] is True
        ledger.close()

    def test_rerun_is_idempotent(self, tmp_path):
        """Writing the same exposure's products again: same files, no second ledger row."""
        ledger = Ledger(tmp_path / "l.sqlite", synchronous="NORMAL")
        fid, _ = ledger.record_landed("/land/jw_test_uncal.fits", "h", 1)
        table = ProductTable(tmp_path / "table")
        events = ListEventSink()
        sink = FitsProductSink(tmp_path / "products", ledger, table=table, events=events)
        first = sink.write(fid, _result(), "jw_test_uncal.fits")
        second = sink.write(fid, _result(), "jw_test_uncal.fits")
        assert first == second
        assert sorted(p.name for p in (tmp_path / "products").iterdir()) == [
            "jw_test_rate.fits", "jw_test_rateints.fits"]
        assert len(ledger.products()) == 2 and table.read().num_rows == 2
        assert [e["detail"]["new"] for e in events.events] == [True, True, False, False]
        ledger.close()

    def test_without_table_and_log(self, tmp_path):
        ledger = Ledger(tmp_path / "l.sqlite", synchronous="NORMAL")
        fid, _ = ledger.record_landed("/land/x_uncal.fits", "h", 1)
        paths = FitsProductSink(tmp_path / "p", ledger).write(fid, _result("x_uncal.fits", 1), "x_uncal.fits")
        assert [p.name for p in paths] == ["x_rate.fits", "x_rateints.fits"]
        ledger.close()


class TestTestingHelpers:
    """streamcal.testing: the landing writers and the exactly-once check."""

    @pytest.mark.parametrize("how", ["atomic", "chunked", "renamed_in", "rsync_style"])
    def test_landing_writers(self, tmp_path, how):
        from streamcal import testing

        src = tmp_path / "src" / "jw_x_uncal.fits"
        src.parent.mkdir()
        src.write_bytes(os.urandom(10000))
        landing, staging = tmp_path / "landing", tmp_path / "staging"
        landing.mkdir()
        staging.mkdir()
        if how == "renamed_in":
            dst = testing.land_renamed_in(src, landing, staging)
        elif how == "chunked":
            dst = testing.land_chunked(src, landing, chunks=3, pause=0.01)
        else:
            dst = getattr(testing, f"land_{how}")(src, landing)
        assert dst == landing / "jw_x_uncal.fits" and dst.read_bytes() == src.read_bytes()
        assert [p.name for p in landing.iterdir()] == ["jw_x_uncal.fits"] and not list(staging.iterdir())

    def test_exactly_once(self, tmp_path):
        from streamcal.testing import assert_exactly_once, exactly_once_problems

        products = tmp_path / "products"
        ledger = Ledger(products / "ledger.sqlite", synchronous="NORMAL")
        sink = FitsProductSink(products, ledger, table=ProductTable(products / "products_table"),
                               events=EventLog(products / "events.jsonl"))
        fid, _ = ledger.record_landed("/land/jw_test_uncal.fits", "h", 1)
        for state in ("routed", "stage1"):
            ledger.transition(fid, state)
        paths = sink.write(fid, _result(), "jw_test_uncal.fits")
        sink.write(fid, _result(), "jw_test_uncal.fits")  # a retry: still once
        ledger.transition(fid, "done")
        src = tmp_path / "bad.fits"
        src.write_bytes(b"x")
        quarantine(src, products, check="fits", reason="not FITS")
        assert_exactly_once(products, expect_done=1)

        other, _ = ledger.record_landed("/land/b_uncal.fits", "h2", 1)
        ledger.transition(other, "routed")
        (products / "stray_rate.fits").write_bytes(b"x")
        (products / ".jw_b_rate.fits.abc.part").write_bytes(b"x")
        paths[1].write_bytes(b"changed")
        problems = exactly_once_problems(products, expect_done=2)
        assert any("b_uncal.fits: still 'routed'" in p for p in problems)
        assert any("stray_rate.fits: product on disk but not in the ledger" in p for p in problems)
        assert any("hidden temporary file" in p for p in problems)
        assert any("jw_test_rateints.fits: content differs" in p for p in problems)
        assert any("1 files done, expected 2" in p for p in problems)
        paths[0].unlink()
        with pytest.raises(AssertionError, match="jw_test_rate.fits: in the ledger but missing"):
            assert_exactly_once(products)
        ledger.close()


def test_light_sinks_do_not_import_the_pipelines():
    """The ledger/ingest side imports sinks without the numba pipelines; FitsProductSink is lazy."""
    import subprocess
    import sys

    code = ("import sys, streamcal.sinks as s; assert 'streamcal.pipelines' not in sys.modules; "
            "s.FitsProductSink; assert 'streamcal.pipelines.runner' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


_STREAM_CODE = _RESULT_CODE + """
import sys
from pathlib import Path
from streamcal.ledger import Ledger
from streamcal.sinks import EventLog, FitsProductSink, ProductTable

products = Path(sys.argv[1])
ledger = Ledger(products / "ledger.sqlite")
sink = FitsProductSink(products, ledger, table=ProductTable(products / "products_table"),
                       events=EventLog(products / "events.jsonl"))
print("ready", flush=True)
for i in range(int(sys.argv[2])):
    name = f"jw_{i:03d}_uncal.fits"
    fid, new = ledger.record_landed(f"/land/{name}", f"sha{i}", 1)
    for state in ("routed", "stage1"):
        ledger.transition(fid, state)
    ledger.start_attempt(fid, "calwebb_detector1")
    sink.write(fid, _result(name), name)
    ledger.transition(fid, "done")
    print("done", i, flush=True)
"""


def _finish(ledger, sink, fid, name):
    """What the service does with a file on resume: carry it on from the state it is in."""
    state = ledger.get(fid).state
    if state == "landed":
        state = ledger.transition(fid, "routed").state
    if state == "routed":
        state = ledger.transition(fid, "stage1").state
    ledger.start_attempt(fid, "calwebb_detector1")
    sink.write(fid, _result(name), name)
    ledger.transition(fid, "done")


def test_crash_resume_exactly_once(tmp_path):
    """Run a stream, SIGKILL it mid-way, resume from the ledger: every file has exactly one
    product set, and nothing else is in the products directory."""
    from streamcal.testing import assert_exactly_once

    products, n = tmp_path / "products", 8
    code = _STREAM_CODE.replace("sys.argv[1]", repr(str(products))).replace("sys.argv[2]", str(n))
    lines = run_until_killed(code, kill_after=lambda seen: len(seen) >= 4)  # 3 done, the 4th in flight
    assert lines[-1] == "done 2"
    with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
        sink = FitsProductSink(products, ledger, table=ProductTable(products / "products_table"),
                               events=EventLog(products / "events.jsonl"))
        for rec in ledger.in_flight():  # resume what was in flight
            _finish(ledger, sink, rec.id, rec.name)
        for i in range(n):  # the sweep: every file lands (again); only new content is processed
            name = f"jw_{i:03d}_uncal.fits"
            fid, new = ledger.record_landed(f"/land/{name}", f"sha{i}", 1)
            if new:
                _finish(ledger, sink, fid, name)
        assert len(ledger.products()) == 2 * n
        assert_exactly_once(products, expect_done=n)
        assert sink.table.read().num_rows == 2 * n
