"""The orchestration core without Ray: readiness, stage 3, retries, quarantine, cross-stage
inputs, crash + resume = exactly once.  Stand-in workers write tiny files; a fake clock moves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from streamcal import registry
from streamcal.associations import AssociationStore, write_firing_asn
from streamcal.config import AssociationConfig, RetryConfig, ServiceConfig
from streamcal.flow import Arrival, ArrivalKind, Flow, OutcomeKind, log_event
from streamcal.flow.events import LOG_EVENTS
from streamcal.ledger import Ledger
from streamcal.router import route
from streamcal.sinks.events import EVENTS
from streamcal.testing import FakeClock, StandInWorker, drive


def header(k: int, *, obs: str = "001", exp_type: str = "NRC_IMAGE", numdthpt: int = 4, act: str = "02101",
           **cards) -> dict:
    return {"PROGRAM": "01234", "OBSERVTN": obs, "VISIT": "001", "EXPOSURE": str(k), "EXP_TYPE": exp_type,
            "INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "FILTER": "F200W", "PUPIL": "CLEAR", "SUBARRAY": "SUB400P",
            "TARGPROP": "FIELD", "TARGNAME": "FIELD", "PATTTYPE": "4-POINT-BOX", "NUMDTHPT": numdthpt,
            "PATT_NUM": k, "TSOVISIT": False, "EXPCOUNT": k, "ACT_ID": act, **cards}


def root(k: int, obs: str = "001", act: str = "02101") -> str:
    return f"jw01234{obs}001_{act}_{k:05d}_nrca1"


class World:
    """A landing directory, a products directory, a ledger, a flow on them, stand-in workers."""

    def __init__(self, tmp_path: Path, *, fail=None, timeout: float = 600.0, cross: float = 1800.0,
                 max_attempts: int = 3):
        self.landing, self.products = tmp_path / "landing", tmp_path / "products"
        self.landing.mkdir(exist_ok=True)
        self.clock = FakeClock(1000.0)
        self.config = replace(ServiceConfig(), landing=self.landing, products=self.products,
                              retries=RetryConfig(max_attempts=max_attempts, backoff_seconds=1.0),
                              associations=AssociationConfig(late_member_timeout=timeout,
                                                             cross_input_timeout=cross))
        self.headers: dict[str, dict] = {}
        self.moved: list[tuple] = []
        self.log: list = []
        self.worker = StandInWorker(self.products, fail)
        self.open()

    def open(self) -> Flow:
        self.ledger = Ledger(self.products / "ledger.sqlite", clock=self.clock, synchronous="NORMAL",
                             listener=lambda rows: self.log.extend(log_event(r) for r in rows))
        store = AssociationStore(self.ledger, self.config.associations.late_member_timeout, clock=self.clock)
        self.flow = Flow(self.ledger, self.config, store,
                         write_asn=lambda firing: write_firing_asn(firing, self.products),
                         read_header=lambda path: self.headers[Path(path).name.rsplit("_", 1)[0]],
                         route_file=lambda path: route(self.headers[Path(path).name.rsplit("_", 1)[0]]),
                         quarantine=lambda *move: self.moved.append(move), clock=self.clock)
        return self.flow

    def arrival(self, name: str, hdr: dict | None) -> Arrival:
        path = self.landing / f"{name}_uncal.fits"
        path.write_text(name)
        if hdr is None:
            return Arrival(ArrivalKind.BAD, str(path), check="fits", reason="not a FITS file")
        self.headers[name] = hdr
        return Arrival(ArrivalKind.EXPOSURE, str(path), f"sha-{name}", 10, route=route(hdr))

    def land(self, *pairs) -> list:
        return self.flow.land([self.arrival(name, hdr) for name, hdr in pairs])

    def run(self, jobs, **kw) -> list:
        return drive(self.flow, self.worker, jobs, self.clock, **kw)

    def states(self) -> dict[str, str]:
        return {Path(r.path).name.rsplit("_", 1)[0]: r.state
                for r in (self.ledger.get(i) for i in range(1, self._count() + 1))}

    def _count(self) -> int:
        return self.ledger.summary()["files"]


def dither(n: int = 4, obs: str = "001", numdthpt: int = 4) -> list[tuple]:
    return [(root(k, obs), header(k, obs=obs, numdthpt=numdthpt)) for k in range(1, n + 1)]


def test_an_exposure_goes_through_every_stage_and_stage3_fires_when_complete(tmp_path):
    w = World(tmp_path)
    jobs = w.land(*dither(3))
    assert [j.pipeline for j in jobs] == [registry.D1] * 3
    w.run(jobs)
    assert set(w.states().values()) == {"waiting_association"}     # 3 of 4: stage 3 waits
    w.run(w.land(*dither(4)[3:]))
    assert set(w.states().values()) == {"done"}
    (assoc,) = w.ledger.associations()
    assert assoc.state == "done" and not assoc.partial and assoc.members == [1, 2, 3, 4]
    stage2 = [j for j in w.worker.runs if j.pipeline == registry.IMAGE2]
    assert all(j.path.endswith("_rate.fits") and j.options.tweakreg_catalog for j in stage2)
    names = [e.event for e in w.log]
    assert names.count("fired") == 1 and names.count("landed") == 4 and "finished" in names
    assert {e.event for e in w.log} <= EVENTS


def test_partial_after_the_late_member_timeout_then_remade_when_it_lands(tmp_path):
    w = World(tmp_path, timeout=30)
    w.run(w.land(*dither(3)))
    w.clock.advance(31)
    w.run([])
    (assoc,) = w.ledger.associations()
    assert assoc.partial and assoc.state == "done" and assoc.runs == 1
    w.run(w.land(*dither(4)[3:]))
    (assoc,) = w.ledger.associations()
    assert not assoc.partial and assoc.runs == 2 and assoc.members == [1, 2, 3, 4]


def test_a_member_landing_while_its_product_is_made_remakes_it_after(tmp_path):
    """A firing for a product whose job is running is remembered in the ledger (remake flag) and
    made when the running job ends, never concurrently."""
    w = World(tmp_path, timeout=30)
    w.run(w.land(*dither(3)))
    w.clock.advance(31)
    (partial,) = w.flow.tick()
    (running,) = w.flow.start([partial])
    jobs = w.land(*dither(4)[3:])
    rest = w.run(jobs)                        # the 4th member joins while the partial one runs
    assert w.ledger.associations()[0].remake
    assert not [j for j, _ in rest if j.association]
    after = w.flow.finish([(running, w.worker(running))])
    assert [j.association for j in after] == [partial.association]
    w.run(after)
    (assoc,) = w.ledger.associations()
    assert not assoc.partial and assoc.runs == 2 and not assoc.remake


def test_bad_input_is_quarantined_at_once_and_never_retried(tmp_path):
    good, junk = dither(1)[0], (root(7), header(7))
    w = World(tmp_path, fail={f"{junk[0]}_uncal.fits": [OutcomeKind.BAD_INPUT]})
    w.run(w.land(good, junk, ("jw01234001001_02101_00009_nrca1", None)))
    states = w.states()
    assert states[junk[0]] == "quarantined" and states["jw01234001001_02101_00009_nrca1"] == "quarantined"
    assert [j.pipeline for j in w.worker.runs if junk[0] in j.path] == [registry.D1]   # one attempt
    assert len(w.moved) == 2 and all(reason for _, _, reason in w.moved)
    assert not [e for e in w.log if e.event == "retried"]


def test_transient_failures_are_retried_with_backoff_then_fail(tmp_path):
    flaky, dead = (root(1), header(1, numdthpt=1)), (root(2), header(2, numdthpt=1))
    w = World(tmp_path, fail={f"{flaky[0]}_uncal.fits": [OutcomeKind.TRANSIENT] * 2,
                              f"{dead[0]}_uncal.fits": [OutcomeKind.TRANSIENT] * 5})
    t0 = w.clock()
    w.run(w.land(flaky, dead))
    assert w.states()[dead[0]] == "failed" and w.ledger.get(2).error_check == "transient"
    assert w.ledger.get(1).state == "done"
    retried = [e for e in w.log if e.event == "retried"]
    assert [e.detail["delay"] for e in retried if e.detail["file_id"] == 2] == [1.0, 2.0]
    assert w.clock() - t0 >= 3.0                                      # backoff 1 s then 2 s


def test_a_not_implemented_stage3_fails_without_passing_data_through(tmp_path):
    w = World(tmp_path)
    w.run(w.land((root(1), header(1, exp_type="NIS_AMI", INSTRUME="NIRISS", DETECTOR="NIS"))))
    rec = w.ledger.get(1)
    assert rec.state == "failed" and "calwebb_ami3 is not implemented yet" in rec.error


def test_new_content_under_a_name_in_work_waits_for_it(tmp_path):
    """New bytes under a name whose older content is still in work are held (both would write
    the same product names), then queued once the older content has left the stages."""
    w = World(tmp_path)
    name, hdr = root(1), header(1, numdthpt=1)
    (old,) = w.land((name, hdr))
    path = w.landing / f"{name}_uncal.fits"
    assert w.flow.land([Arrival(ArrivalKind.EXPOSURE, str(path), "sha-new", 10, route=route(hdr))]) == []
    assert len(w.flow.held) == 1 and not w.flow.idle
    (other,) = w.land((root(2), header(2, numdthpt=1)))
    (started,) = w.flow.start([old])
    after = w.flow.finish([(started, w.worker(started))])              # old content: now stage 2
    assert {j.file_id for j in after} == {1} and len(w.flow.held) == 1
    w.run(after + [other])
    assert w.ledger.get(3).state == "done" and not w.flow.held


@pytest.fixture
def spec2_implemented(monkeypatch):
    """spec2 with an engine (a later issue builds it): the WFSS cross-stage rule becomes live."""
    entry = replace(registry.REGISTRY[registry.SPEC2], engine="streamcal")
    monkeypatch.setitem(registry.REGISTRY, registry.SPEC2, entry)


def test_wfss_spec2_waits_for_its_direct_image_catalog_that_arrives_late(tmp_path, spec2_implemented):
    w = World(tmp_path)
    wfss = (root(1, act="02105"), header(1, exp_type="NRC_WFSS", act="02105"))
    w.run(w.land(wfss))
    assert w.ledger.get(1).state == "stage2" and 1 in w.flow.waits and not w.flow.idle
    w.clock.advance(100)
    w.run(w.land(*dither(4)))                                          # the direct image's mosaic
    (spec2,) = [j for j in w.worker.runs if j.pipeline == registry.SPEC2]
    assert sorted(Path(p).name.rsplit("_", 1)[1] for p in spec2.options.extra_inputs) == \
        ["cat.ecsv", "i2d.fits", "segm.fits"]
    assert not w.flow.waits and w.ledger.get(1).state == "failed"     # then spec3: not implemented
    assert "calwebb_spec3 is not implemented" in w.ledger.get(1).error


def test_wfss_spec2_fails_clearly_when_its_direct_image_never_comes(tmp_path, spec2_implemented):
    w = World(tmp_path, cross=600)
    w.run(w.land((root(1, act="02105"), header(1, exp_type="NRC_WFSS", act="02105"))))
    w.clock.advance(599)
    w.run([])
    assert w.ledger.get(1).state == "stage2"
    w.open().resume()                                                  # a restart keeps the wait's start
    assert 1 in w.flow.waits
    w.clock.advance(2)
    w.run([])
    rec = w.ledger.get(1)
    assert rec.state == "failed" and rec.error_check == "cross_input"
    assert "calwebb_image3 _cat, calwebb_image3 _segm of observation jw01234-o001" in rec.error


class Crash(BaseException):
    """The process died here (a BaseException, like SystemExit: nothing may handle it)."""


def _crash_at(ledger: Ledger, n: int) -> list[int]:
    """Make the ``n``-th state-changing ledger write of this ledger raise (the transaction it is
    part of is rolled back, as when the process dies); returns the write counter."""
    count = [0]
    for name in ("transition", "record_product", "fire_association", "end_association", "start_attempt",
                 "start_association", "record_landed"):
        original = getattr(ledger, name)

        def wrapped(*args, _original=original, **kwargs):
            count[0] += 1
            if count[0] == n:
                raise Crash(f"write {n}")
            return _original(*args, **kwargs)

        setattr(ledger, name, wrapped)
    return count


def _scenario(w: World) -> None:
    """Two dither members land and run, then two more: every stage, one stage-3 firing."""
    w.run(w.land(*dither(2)))
    w.run(w.land(*dither(4)[2:]))


CRASH_POINTS = range(1, 80)


@pytest.mark.parametrize("n", CRASH_POINTS)
def test_crash_at_any_write_then_resume_is_exactly_once(tmp_path, n):
    """Kill the flow at its n-th ledger write (any transition of any exposure or association),
    restart it on the same ledger, resume, let the files land again: every exposure done once,
    every product recorded once, the mosaic made with all four members."""
    w = World(tmp_path)
    _crash_at(w.ledger, n)
    try:
        _scenario(w)
    except Crash:
        w.ledger.close()
        w.open()
        jobs = w.flow.resume()
        w.run(jobs)
        # ingest re-sends what it finds on start: the ledger drops what it has
        w.run(w.land(*dither(4)))
    states = w.states()
    assert list(states.values()) == ["done"] * 4, states
    products = [p.path for p in w.ledger.products()]
    assert len(products) == len(set(products))
    assert sorted(Path(p).name.rsplit("_", 1)[1] for p in products if "-o001" not in p) == \
        sorted(["rate.fits", "cal.fits"] * 4)
    (assoc,) = w.ledger.associations()
    assert assoc.state == "done" and assoc.members == [1, 2, 3, 4] and not assoc.partial


def test_the_crash_points_cover_every_write_of_the_scenario(tmp_path):
    """The parametrisation above reaches every ledger write of the scenario."""
    w = World(tmp_path)
    count = _crash_at(w.ledger, 10 ** 9)
    _scenario(w)
    assert 40 < count[0] < max(CRASH_POINTS), count[0]


def test_every_ledger_event_has_an_event_log_name():
    assert set(LOG_EVENTS.values()) <= EVENTS
    with pytest.raises(KeyError, match="no event-log name"):
        log_event({"event": "teleported", "time": 0.0, "file_id": None, "detail": None})


def test_a_job_out_of_attempts_after_restarts_fails_when_started(tmp_path):
    """Attempts are counted in the ledger before a job runs, so an input that took the service
    down with it every time (no outcome ever reported) fails once its attempts are used up."""
    w = World(tmp_path, max_attempts=2)
    (job,) = w.land((root(1), header(1, numdthpt=1)))
    for _ in range(2):                                   # started, then the service died: no outcome
        assert w.flow.start([job])
        w.ledger.close()
        w.open()
        (job,) = w.flow.resume()
    assert w.flow.start([job]) == [] and w.flow.idle
    rec = w.ledger.get(1)
    assert rec.state == "failed" and rec.error_check == "attempts" and "gave up after 2 attempts" in rec.error


def test_an_internal_error_on_one_outcome_fails_that_job_only(tmp_path):
    """A bug while recording one outcome (here: the association store raises) undoes that
    outcome's writes, fails its exposure with the error (nothing waits for ever), keeps the error
    for the service, and the other outcomes of the same call are recorded."""
    w = World(tmp_path)
    image, dark = w.land((root(1), header(1, numdthpt=1)), (root(2), header(2, obs="002", exp_type="NRC_DARK")))
    (image,) = w.flow.start([image])
    (cal,) = w.flow.start(w.flow.finish([(image, w.worker(image))]))
    (dark,) = w.flow.start([dark])

    def broken(*args, **kwargs):
        raise RuntimeError("store bug")

    w.flow.associations.add_member = broken
    assert w.flow.finish([(cal, w.worker(cal)), (dark, w.worker(dark))]) == []
    assert w.ledger.get(1).state == "failed" and w.ledger.get(1).error_check == "internal"
    assert "store bug" in w.ledger.get(1).error and any("store bug" in e for e in w.flow.errors)
    assert w.ledger.get(2).state == "done" and w.flow.idle


@pytest.fixture
def tso3_implemented(monkeypatch):
    """tso3 with an engine, whatever the registry says today."""
    entry = replace(registry.REGISTRY[registry.TSO3], engine="streamcal")
    monkeypatch.setitem(registry.REGISTRY, registry.TSO3, entry)


def test_a_time_series_goes_through_tso1_image2_and_tso3_on_its_calints(tmp_path, tso3_implemented):
    """An imaging time series: tso1, image2 on its _rateints, and tso3 fired on its _calints
    (one exposure, its own association) making _crfints and _phot."""
    w = World(tmp_path)
    hdr = header(1, exp_type="NRC_TSIMAGE", numdthpt=1, PATTTYPE="NONE", TSOVISIT=True, SUBARRAY="SUB64P")
    w.run(w.land((root(1), hdr)))
    assert [j.pipeline for j in w.worker.runs] == [registry.TSO1, registry.IMAGE2, registry.TSO3]
    assert w.worker.runs[1].path.endswith("_rateints.fits")
    (assoc,) = w.ledger.associations()
    assert assoc.pipeline == registry.TSO3 and assoc.state == "done" and assoc.members == [1]
    assert w.ledger.get(1).state == "done"
    assert sorted(p.suffix for p in w.ledger.products(1)) == ["calints", "crfints", "phot", "rateints"]
