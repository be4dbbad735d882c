"""``streamcal status`` (reads the ledger, no Ray) and the ``run`` command's argument handling."""

import json

from streamcal import cli
from streamcal.ledger import Ledger
from streamcal.service import format_status, read_status


def _ledger_with_history(products):
    ledger = Ledger(products / "ledger.sqlite", synchronous="NORMAL")
    a, _ = ledger.record_landed("/in/a_uncal.fits", "aa", 10)
    b, _ = ledger.record_landed("/in/b_uncal.fits", "bb", 10)
    c, _ = ledger.record_landed("/in/c_uncal.fits", "cc", 10)
    d, _ = ledger.record_landed("/in/d_uncal.fits", "dd", 10)
    for fid in (a, b, c):
        ledger.transition(fid, "routed")
        ledger.transition(fid, "stage1", stage="calwebb_detector1")
    ledger.start_attempt(b, "calwebb_detector1")
    ledger.record_product(c, str(products / "c_dark.fits"), "dark", "calwebb_dark", "x")
    ledger.transition(c, "done", stage="calwebb_dark")
    ledger.transition(d, "quarantined", error="not FITS", check="fits")
    ledger.close()


def test_read_status_counts_per_stage(tmp_path):
    _ledger_with_history(tmp_path)
    summary = read_status(tmp_path)
    d1 = summary["per_stage"]["calwebb_detector1"]
    assert (d1["queued"], d1["in_flight"]) == (1, 1)
    assert summary["per_stage"]["calwebb_dark"]["done"] == 1
    assert summary["per_stage"]["-"]["quarantined"] == 1
    assert summary["oldest_waiting"]["name"] == "a_uncal.fits"
    text = format_status(summary)
    assert "calwebb_detector1" in text and "oldest waiting: a_uncal.fits" in text and "c_dark.fits" in text


def test_status_command(tmp_path, capsys):
    assert cli.main(["status", "--products", str(tmp_path)]) == cli.EXIT_BAD_INPUT
    assert "no ledger" in capsys.readouterr().err
    _ledger_with_history(tmp_path)
    assert cli.main(["status", "--products", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["states"]["done"] == 1 and data["products"] == 1
    assert cli.main(["status", "--products", str(tmp_path)]) == 0
    assert "recent products" in capsys.readouterr().out


def test_run_refuses_a_bad_config(tmp_path, capsys):
    bad = tmp_path / "svc.toml"
    bad.write_text("[pools.nonsense]\nsize = 1\n")
    code = cli.main(["run", str(tmp_path / "in"), "--products", str(tmp_path / "out"), "--config", str(bad)])
    assert code == cli.EXIT_BAD_INPUT and "unknown pipeline" in capsys.readouterr().err


def test_status_shows_stage3_products(tmp_path):
    """A partial association product shows in the text status (counts from the ledger)."""
    ledger = Ledger(tmp_path / "ledger.sqlite", synchronous="NORMAL")
    fid, _ = ledger.record_landed("/in/a_uncal.fits", "aa", 10)
    for state in ("routed", "stage1", "stage2", "waiting_association"):
        ledger.transition(fid, state)
    ledger.fire_association("jw01234-o001_t001_nircam_clear-f200w", "/p/x_asn.json", "calwebb_image3", [fid], True)
    ledger.end_association("jw01234-o001_t001_nircam_clear-f200w", "done")
    ledger.close()
    summary = read_status(tmp_path)
    assert summary["associations"] == {"stage3": 0, "done": 1, "failed": 0, "partial": 1}
    assert "stage-3 products: being made 0, done 1 (partial 1), failed 0" in format_status(summary)


def test_status_shows_association_candidates(tmp_path):
    """Members held by the association store and candidates still waiting show in the status."""
    from streamcal.associations import AssociationStore

    ledger = Ledger(tmp_path / "ledger.sqlite", synchronous="NORMAL")
    store = AssociationStore(ledger, 600.0)
    header = {"PROGRAM": "01234", "OBSERVTN": "001", "VISIT": "001", "EXPOSURE": "1", "EXP_TYPE": "NRC_IMAGE",
              "INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "FILTER": "F200W", "PUPIL": "CLEAR",
              "SUBARRAY": "SUB400P", "TARGPROP": "FIELD", "TARGNAME": "FIELD", "PATTTYPE": "4-POINT-BOX",
              "NUMDTHPT": 4, "PATT_NUM": 1, "TSOVISIT": False, "EXPCOUNT": 1}
    assert store.add_member(1, "/p/jw01234001001_02101_00001_nrca1_cal.fits", header) == []
    ledger.close()
    summary = read_status(tmp_path)
    assert summary["candidates"]["members"] == 1 and summary["candidates"]["waiting"] == 1
    assert "association candidates: waiting for members 1" in format_status(summary)
