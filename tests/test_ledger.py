"""The ledger: dedupe by content, enforced transitions, idempotent products, crash safety."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from streamcal.ledger import STATES, TERMINAL, TRANSITIONS, Ledger
from streamcal.router import Route
from streamcal.testing import FakeClock, ListEventSink, run_until_killed


@pytest.fixture
def clock():
    return FakeClock(1000.0)


@pytest.fixture
def ledger(tmp_path, clock):
    with Ledger(tmp_path / "ledger.sqlite", clock=clock, synchronous="NORMAL") as led:
        yield led


def _walk(ledger, file_id, *states):
    for state in states:
        ledger.transition(file_id, state)


class TestOpen:
    def test_wal_mode_and_tables(self, tmp_path):
        """The file is in WAL mode with the four tables; FULL synchronous by default."""
        with Ledger(tmp_path / "sub" / "l.sqlite") as led:
            assert led._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert led._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        names = {r[0] for r in sqlite3.connect(tmp_path / "sub" / "l.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"files", "aliases", "products", "events"} <= names

    def test_bad_synchronous(self, tmp_path):
        with pytest.raises(ValueError, match="synchronous"):
            Ledger(tmp_path / "l.sqlite", synchronous="OFF")

    def test_threads_of_the_owner_are_serialised(self, ledger):
        """Calls from several threads (threaded actor, watchdog callback) never interleave."""
        def land(k):
            for i in range(25):
                fid, _ = ledger.record_landed(f"/l/{k}_{i}.fits", f"{k}-{i}", 1)
                ledger.transition(fid, "routed")
                ledger.start_attempt(fid)

        threads = [threading.Thread(target=land, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ledger.summary()["states"]["routed"] == 100
        assert all(r.attempts == 1 for r in ledger.in_flight())
        assert len(ledger.events()) == 300


class TestRecordLanded:
    def test_new_file(self, ledger, clock):
        fid, new = ledger.record_landed("/land/a_uncal.fits", "aa", 10)
        rec = ledger.get(fid)
        assert new and rec.state == "landed" and rec.name == "a_uncal.fits"
        assert rec.size == 10 and rec.landed_at == clock() and rec.attempts == 0

    def test_same_path_same_content_is_noop(self, ledger):
        first = ledger.record_landed("/land/a.fits", "aa", 10)
        assert ledger.record_landed("/land/a.fits", "aa", 10) == (first[0], False)
        assert [e["event"] for e in ledger.events()] == ["landed"]

    def test_same_content_other_name_is_alias(self, ledger):
        """Same bytes under another name: an alias, not processed again."""
        fid, _ = ledger.record_landed("/land/a.fits", "aa", 10)
        assert ledger.record_landed("/land/copy.fits", "aa", 10) == (fid, False)
        assert ledger.record_landed("/land/copy.fits", "aa", 10) == (fid, False)
        assert ledger.by_path("/land/copy.fits").id == fid
        assert ledger.known_paths() == {"/land/a.fits", "/land/copy.fits"}
        assert [e["event"] for e in ledger.events()] == ["landed", "duplicate"]
        assert len(ledger.in_flight()) == 1

    def test_new_content_same_path_is_new_file(self, ledger):
        a, _ = ledger.record_landed("/land/a.fits", "aa", 10)
        b, new = ledger.record_landed("/land/a.fits", "bb", 12)
        assert new and b != a and ledger.by_path("/land/a.fits").id == b

    def test_new_content_same_path_supersedes_the_products(self, ledger, clock):
        """Both contents are recorded; the product of the same name now belongs to the new
        file, and the old one's history says it was superseded; landed_times has the newer time."""
        a, _ = ledger.record_landed("/land/a.fits", "aa", 10)
        ledger.record_product(a, "/p/a_rate.fits", "rate", "calwebb_detector1", "s1")
        t_a = ledger.landed_times()["/land/a.fits"]
        clock.advance(5)
        b, new = ledger.record_landed("/land/a.fits", "bb", 10)
        assert new and ledger.landed_times() == {"/land/a.fits": t_a + 5}
        assert ledger.record_product(b, "/p/a_rate.fits", "rate", "calwebb_detector1", "s2") is False
        assert [p.sha256 for p in ledger.products(b)] == ["s2"] and ledger.products(a) == []
        (sup,) = [e for e in ledger.events(a) if e["event"] == "superseded"]
        assert sup["detail"] == {"path": "/p/a_rate.fits", "by_file": b}

    def test_by_path_unknown(self, ledger):
        assert ledger.by_path("/nowhere") is None
        assert ledger.by_sha256("zz") is None


class TestTransition:
    def test_full_path_to_done(self, ledger, clock):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        route = Route("NRC_IMAGE", "calwebb_detector1", "calwebb_image2", "calwebb_image3")
        clock.advance(1)
        rec = ledger.transition(fid, "routed", route=route)
        assert rec.route["stage1"] == "calwebb_detector1" and rec.updated_at == 1001.0
        rec = ledger.transition(fid, "stage1", stage="calwebb_detector1")
        assert rec.stage == "calwebb_detector1"
        _walk(ledger, fid, "stage2", "waiting_association", "stage3", "done")
        rec = ledger.get(fid)
        assert rec.state == "done" and rec.terminal and rec.stage == "calwebb_detector1"
        assert ledger.in_flight() == []
        assert [e["event"] for e in ledger.events(fid)] == [
            "landed", "routed", "stage1", "stage2", "waiting_association", "stage3", "done"]
        assert ledger.events(fid)[1]["detail"]["from"] == "landed"

    @pytest.mark.parametrize("start,target", [("landed", "stage1"), ("landed", "done"),
                                              ("routed", "stage2"), ("stage3", "stage1")])
    def test_illegal_transition_names_both(self, ledger, start, target):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        path = {"landed": [], "routed": ["routed"], "stage3": ["routed", "stage1", "stage2",
                                                               "waiting_association", "stage3"]}
        _walk(ledger, fid, *path[start])
        with pytest.raises(ValueError, match=f"from '{start}' to '{target}'"):
            ledger.transition(fid, target)
        assert ledger.get(fid).state == start  # rolled back, nothing half-done

    def test_terminal_states_are_terminal(self, ledger):
        for i, terminal in enumerate(("done", "quarantined")):
            fid, _ = ledger.record_landed(f"/l/{i}.fits", str(i), 1)
            if terminal == "done":
                _walk(ledger, fid, "routed", "stage1")
            ledger.transition(fid, terminal)
            with pytest.raises(ValueError, match="terminal"):
                ledger.transition(fid, "routed")

    def test_unknown_state_and_file(self, ledger):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        with pytest.raises(ValueError, match="unknown ledger state 'cooking'"):
            ledger.transition(fid, "cooking")
        with pytest.raises(KeyError, match="no file with id 99"):
            ledger.transition(99, "routed")

    def test_quarantine_records_error_and_check(self, ledger):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        rec = ledger.transition(fid, "quarantined", error="EXP_TYPE missing", check="keywords")
        assert (rec.state, rec.error, rec.error_check) == ("quarantined", "EXP_TYPE missing", "keywords")
        assert ledger.events(fid)[-1]["detail"]["check"] == "keywords"

    def test_failed_can_be_retried(self, ledger):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        _walk(ledger, fid, "routed", "failed", "landed")
        assert ledger.get(fid).state == "landed" and ledger.get(fid).error is None

    def test_table_is_consistent(self):
        assert set(TRANSITIONS) == set(STATES)
        assert all(not TRANSITIONS[s] or s == "failed" for s in TERMINAL)
        assert all(t in STATES for targets in TRANSITIONS.values() for t in targets)


class TestAttempts:
    def test_counts_and_resets_on_state_change(self, ledger):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        _walk(ledger, fid, "routed", "stage1")
        assert ledger.start_attempt(fid, "calwebb_detector1") == 1
        assert ledger.start_attempt(fid, "calwebb_detector1") == 2
        assert ledger.get(fid).attempts == 2 and ledger.get(fid).stage == "calwebb_detector1"
        assert ledger.transition(fid, "stage2").attempts == 0

    def test_no_attempt_when_terminal(self, ledger):
        fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
        ledger.transition(fid, "quarantined")
        with pytest.raises(ValueError, match="terminal"):
            ledger.start_attempt(fid)


class TestProducts:
    def test_idempotent_by_path(self, ledger, clock):
        fid, _ = ledger.record_landed("/l/a_uncal.fits", "aa", 1)
        assert ledger.record_product(fid, "/p/a_rate.fits", "rate", "calwebb_detector1", "s1") is True
        clock.advance(5)
        assert ledger.record_product(fid, "/p/a_rate.fits", "rate", "calwebb_detector1", "s2") is False
        products = ledger.products(fid)
        assert len(products) == 1 and products[0].sha256 == "s2" and products[0].created_at == 1005.0
        assert ledger.products() == products

    def test_unknown_file(self, ledger):
        with pytest.raises(KeyError):
            ledger.record_product(7, "/p/x.fits", "rate", None, None)


class TestSummary:
    def test_counts_oldest_and_recent(self, ledger, clock):
        ids = [ledger.record_landed(f"/l/{i}.fits", f"h{i}", 1)[0] for i in range(4)]
        clock.advance(10)
        _walk(ledger, ids[0], "routed", "stage1")
        _walk(ledger, ids[1], "routed", "stage1", "done")
        ledger.transition(ids[2], "quarantined", error="bad", check="fits")
        for i in range(3):
            ledger.record_product(ids[1], f"/p/1_{i}.fits", "rate", "calwebb_detector1", "x")
            clock.advance(1)
        s = ledger.summary(recent=2)
        assert s["files"] == 4 and s["products"] == 3
        assert s["states"]["landed"] == 1 and s["states"]["stage1"] == 1
        assert s["states"]["done"] == 1 and s["states"]["quarantined"] == 1 and s["states"]["failed"] == 0
        assert s["oldest_waiting"]["id"] == ids[0] and s["oldest_waiting"]["age_s"] == 13.0
        assert [p["path"] for p in s["recent_products"]] == ["/p/1_2.fits", "/p/1_1.fits"]
        assert s["recent_products"][0]["file"] == "1.fits"
        json.dumps(s)  # what `streamcal status --json` prints

    def test_empty(self, ledger):
        s = ledger.summary()
        assert s["files"] == 0 and s["oldest_waiting"] is None and s["recent_products"] == []


class TestCrashSafety:
    def test_unclosed_writer_seen_by_other_connection(self, tmp_path):
        """Open, write, do not close: another connection sees every committed transition."""
        writer = Ledger(tmp_path / "l.sqlite")
        fid, _ = writer.record_landed("/l/a.fits", "aa", 1)
        writer.transition(fid, "routed")
        reader = Ledger(tmp_path / "l.sqlite")
        assert reader.get(fid).state == "routed"
        assert [r.id for r in reader.in_flight()] == [fid]
        reader.close()
        writer.close()

    def test_sigkill_mid_stream(self, tmp_path):
        """A writer killed with SIGKILL mid-stream loses nothing it had committed."""
        db = tmp_path / "l.sqlite"
        code = f"""
from streamcal.ledger import Ledger
led = Ledger({str(db)!r})
i = 0
while True:
    fid, _ = led.record_landed(f"/l/{{i}}.fits", f"h{{i}}", 1)
    for state in ("routed", "stage1", "done")[: i % 4]:
        led.transition(fid, state)
    print("committed", fid, led.get(fid).state, flush=True)
    i += 1
"""
        lines = run_until_killed(code, kill_after=lambda seen: len(seen) >= 25)
        committed = {int(w[1]): w[2] for w in (line.split() for line in lines)}
        with Ledger(db) as led:
            for fid, state in committed.items():
                assert led.get(fid).state == state
            resume = {r.id for r in led.in_flight()}
            assert {f for f, s in committed.items() if s != "done"} <= resume
            assert not {f for f, s in committed.items() if s == "done"} & resume
            # at most the one file being written when the kill came is beyond what was printed
            assert len(resume - set(committed)) <= 1


def test_list_event_sink_and_fake_clock():
    """The testing helpers behave as documented."""
    clock = FakeClock(5.0)
    sink = ListEventSink(clock=clock)
    sink.write("landed", file="a.fits")
    clock.advance(1.5)
    sink.write("routed", file="a.fits", stage="calwebb_detector1", detail={"x": 1})
    assert sink.names() == ["landed", "routed"]
    assert [e["seconds"] for e in sink.events] == [5.0, 6.5]
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_run_until_killed_reports_early_exit():
    with pytest.raises(RuntimeError, match="before the kill point"):
        run_until_killed("print('one')", kill_after=lambda seen: len(seen) > 5)


def test_route_json_roundtrip(ledger):
    fid, _ = ledger.record_landed(Path("/l/a.fits"), "aa", 1)
    route = {"exp_type": "MIR_IMAGE", "stage1": "calwebb_detector1", "stage2": None}
    assert ledger.transition(fid, "routed", route=route).route == route
    assert ledger.transition(fid, "stage1").route == route  # kept when not given


def test_path_coming_back_with_other_known_content(ledger, clock):
    """A path re-used for content already known under another file points to that file."""
    a, _ = ledger.record_landed("/l/a.fits", "aa", 1)
    b, _ = ledger.record_landed("/l/b.fits", "bb", 1)
    clock.advance(1)
    assert ledger.record_landed("/l/x.fits", "aa", 1) == (a, False)
    clock.advance(1)
    assert ledger.record_landed("/l/x.fits", "bb", 1) == (b, False)
    assert ledger.by_path("/l/x.fits").id == b
    clock.advance(1)
    assert ledger.record_landed("/l/a.fits", "bb", 1) == (b, False)
    assert ledger.by_path("/l/a.fits").id == b


def test_event_detail_kept(ledger):
    """A mapping detail is merged into the event; anything else is kept under 'detail'."""
    fid, _ = ledger.record_landed("/l/a.fits", "aa", 1)
    ledger.transition(fid, "routed", detail={"why": "EXP_TYPE NRC_IMAGE"})
    ledger.transition(fid, "stage1", stage="calwebb_detector1", detail=["a", 1])
    routed, stage1 = ledger.events(fid)[1:]
    assert routed["detail"] == {"from": "landed", "stage": None, "why": "EXP_TYPE NRC_IMAGE"}
    assert stage1["detail"] == {"from": "routed", "stage": "calwebb_detector1", "detail": ["a", 1]}


class TestBatch:
    def test_batch_commits_once_and_is_invisible_until_then(self, ledger, tmp_path):
        """Writes in a batch are one transaction: another connection sees none of them until
        the block exits, then all of them."""
        fid, _ = ledger.record_landed("/in/a.fits", "sha-a", 10)
        other = sqlite3.connect(tmp_path / "ledger.sqlite")
        with ledger.batch():
            ledger.transition(fid, "routed")
            ledger.transition(fid, "stage1", stage="calwebb_detector1")
            assert ledger.start_attempt(fid, "calwebb_detector1") == 1
            assert other.execute("SELECT state FROM files WHERE id=?", (fid,)).fetchone()[0] == "landed"
        assert other.execute("SELECT state, attempts FROM files WHERE id=?", (fid,)).fetchone() == ("stage1", 1)
        other.close()

    def test_failed_write_in_batch_undoes_only_itself(self, ledger):
        """A write that raises inside a batch is rolled back alone; the others commit."""
        a, _ = ledger.record_landed("/in/a.fits", "sha-a", 10)
        b, _ = ledger.record_landed("/in/b.fits", "sha-b", 10)
        with ledger.batch():
            ledger.transition(a, "routed")
            with pytest.raises(ValueError, match="not allowed"):
                ledger.transition(b, "done")
            ledger.transition(b, "routed")
        assert ledger.get(a).state == ledger.get(b).state == "routed"
        assert [e["state"] for e in ledger.events(b)] == ["landed", "routed"]

    def test_exception_leaving_batch_rolls_back_all(self, ledger):
        """An exception leaving the (outer) batch undoes every write in it, nested ones too."""
        fid, _ = ledger.record_landed("/in/a.fits", "sha-a", 10)
        with pytest.raises(RuntimeError):
            with ledger.batch():
                ledger.transition(fid, "routed")
                with ledger.batch():
                    ledger.record_landed("/in/c.fits", "sha-c", 3)
                raise RuntimeError("boom")
        assert ledger.get(fid).state == "landed" and ledger.by_sha256("sha-c") is None
        ledger.transition(fid, "routed")  # the connection is usable afterwards
        assert ledger.get(fid).state == "routed"

    def test_transition_many_in_order_all_or_nothing(self, ledger):
        """transition_many applies (id, state[, kwargs]) items in order; one bad item: none applied."""
        a, _ = ledger.record_landed("/in/a.fits", "sha-a", 10)
        b, _ = ledger.record_landed("/in/b.fits", "sha-b", 10)
        recs = ledger.transition_many([(a, "routed", {"route": {"stage1": "x"}}), (a, "stage1", {"stage": "x"}),
                                       (b, "routed")])
        assert [(r.id, r.state) for r in recs] == [(a, "routed"), (a, "stage1"), (b, "routed")]
        assert ledger.get(a).route == {"stage1": "x"} and ledger.get(a).stage == "x"
        with pytest.raises(ValueError, match="not allowed"):
            ledger.transition_many([(b, "stage1"), (a, "landed")])
        assert ledger.get(b).state == "routed" and ledger.get(a).state == "stage1"
        assert ledger.transition_many([]) == []


class TestAssociations:
    def _waiting(self, ledger, n, start=0):
        ids = []
        for k in range(start, start + n):
            fid, _ = ledger.record_landed(f"/l/{k}.fits", f"s{k}", 1)
            for state in ("routed", "stage1", "stage2", "waiting_association"):
                ledger.transition(fid, state)
            ids.append(fid)
        return ids

    def test_partial_then_remade_complete(self, ledger):
        """Three members fire a partial product: they go stage3 -> done with it; the late
        fourth fires the remake: only it moves (the others stay done), runs counts 2."""
        ids = self._waiting(ledger, 3)
        rec = ledger.fire_association("p1", "/p/p1_asn.json", "calwebb_image3", ids, partial=True)
        assert (rec.state, rec.partial, rec.runs) == ("stage3", True, 1)
        assert {ledger.get(i).state for i in ids} == {"stage3"}
        assert ledger.start_association("p1") == 1
        ledger.end_association("p1", "done")
        assert {ledger.get(i).state for i in ids} == {"done"}
        (late,) = self._waiting(ledger, 1, start=3)
        rec = ledger.fire_association("p1", "/p/p1_asn.json", "calwebb_image3", ids + [late], partial=False)
        assert (rec.state, rec.partial, rec.runs, rec.attempts) == ("stage3", False, 2, 0)
        assert ledger.get(late).state == "stage3" and ledger.get(ids[0]).state == "done"
        ledger.end_association("p1", "done")
        assert ledger.get(late).state == "done"
        assert ledger.summary()["associations"] == {"stage3": 0, "done": 1, "failed": 0, "partial": 0}

    def test_failure_fails_the_members_and_batches_roll_back_alone(self, ledger):
        ids = self._waiting(ledger, 2)
        with ledger.batch():
            ledger.fire_association("p2", "/p/p2_asn.json", "calwebb_image3", ids, partial=False)
            with pytest.raises(ValueError, match="ends done or failed"):
                ledger.end_association("p2", "stage3")
        rec = ledger.end_association("p2", "failed", error="bad asn", check="asn")
        assert rec.state == "failed" and {ledger.get(i).state for i in ids} == {"failed"}
        with pytest.raises(ValueError, match="not being made"):
            ledger.start_association("p2")
        assert [a.product for a in ledger.associations("failed")] == ["p2"]

    def test_an_asn_file_is_done_once_routed(self, ledger):
        fid, _ = ledger.record_landed("/l/x_asn.json", "a", 1)
        ledger.transition(fid, "routed", route={"asn": True})
        assert ledger.transition(fid, "done").state == "done"
