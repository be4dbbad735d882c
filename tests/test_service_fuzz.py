"""Hostile files through the running service: each is quarantined with its reason on the first
attempt, never retried, and the valid exposures landing with them make their products.

Uses the session's lean Ray cluster and the simulated stock of ``test_service`` (one
``ray.init`` per pytest session), and only the service's public API and its ledger file.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from astropy.io import fits  # noqa: E402
from test_service import _config, _land, ray_cluster, stock  # noqa: E402,F401  (fixtures reused)

from streamcal.boundary.mutate import seed_from_bytes, set_card  # noqa: E402
from streamcal.ledger import Ledger  # noqa: E402

pytestmark = pytest.mark.slow


def _card(data: bytes, hdu: int, key: str, value: bytes) -> bytes:
    seed = seed_from_bytes("x", data)
    out = bytearray(data)
    assert set_card(out, seed.headers[hdu], key, value), key
    return bytes(out)


def _rebuilt(data: bytes, edit) -> bytes:
    with fits.open(io.BytesIO(data)) as hdul:
        hdul.readall()
        copy = fits.HDUList([h.copy() for h in hdul])
    edit(copy)
    buf = io.BytesIO()
    copy.writeto(buf)
    return buf.getvalue()


def _compressed(how: str, znaxis: bytes | None = None):
    def edit(hdul):
        data = hdul["SCI"].data.astype(np.int32)
        hdul["SCI"] = fits.CompImageHDU(data, name="SCI", compression_type=how, tile_shape=(1, 1) + data.shape[-2:])
    return edit


def _no_end(data: bytes) -> bytes:
    out = bytearray(data)
    end = out.find(b"END" + b" " * 77)
    out[end:end + 80] = b"COMMENT".ljust(80)
    return bytes(out) + b"HISTORY no END follows".ljust(80) * 30_000


def _hostile(good: list[bytes]) -> dict[str, bytes]:
    """~40 hostile files made from distinct valid exposures (so none is a duplicate of another)."""
    g = iter(good * 4)
    cards = {"nframes": (0, "NFRAMES", b"2147483648"), "ngroups": (0, "NGROUPS", b"1E999"),
             "nints_t": (0, "NINTS", b"T"), "nints0": (0, "NINTS", b"0"), "tframe": (0, "TFRAME", b"'fast'"),
             "fastaxis": (0, "FASTAXIS", b"0"), "substrt": (0, "SUBSTRT1", b"2040"),
             "subsize2": (0, "SUBSIZE2", b"4096"), "detector": (0, "DETECTOR", b"'NRCZ9'"),
             "instrume": (0, "INSTRUME", b"'MIRI'"), "gainfact": (0, "GAINFACT", b"1E999"),
             "noutputs": (0, "NOUTPUTS", b"0"), "tsovisit": (0, "TSOVISIT", b"'F'"),
             "datebeg": (0, "DATE-BEG", b"'2022\xe9'"), "naxis1": (1, "NAXIS1", b"4611686018427387904"),
             "naxis999": (1, "NAXIS", b"999"), "bitpix": (1, "BITPIX", b"-16"), "bzero": (1, "BZERO", b"'x'"),
             "exptype": (0, "EXP_TYPE", b"42")}
    files = {f"{name}_uncal.fits": _card(next(g), *spec) for name, spec in cards.items()}

    def put(name, hdul_edit):
        files[name] = _rebuilt(next(g), hdul_edit)

    # a mask (and every reference) cut for a 64x128 window, data 64x64
    put("mask_mismatch_uncal.fits", lambda h: h[0].header.__setitem__("SUBSIZE1", 128))
    put("pixeldq_uncal.fits", lambda h: h.append(fits.ImageHDU(np.zeros((3, 3), np.uint32), name="PIXELDQ")))
    put("groupdq_uncal.fits", lambda h: h.append(fits.ImageHDU(np.zeros(h["SCI"].data.shape, np.float32), name="GROUPDQ")))
    put("sci3d_uncal.fits", lambda h: h.__setitem__("SCI", fits.ImageHDU(h["SCI"].data[0], name="SCI")))
    put("nosci_uncal.fits", lambda h: h.pop(h.index_of("SCI")))
    put("emptysci_uncal.fits", lambda h: h.__setitem__("SCI", fits.ImageHDU(None, name="SCI")))
    put("scitable_uncal.fits", lambda h: h.__setitem__("SCI", fits.BinTableHDU.from_columns(
        [fits.Column("A", "J", array=np.arange(3))], name="SCI")))
    for how in ("RICE_1", "GZIP_1", "HCOMPRESS_1", "PLIO_1"):
        put(f"{how.lower()}_uncal.fits", _compressed(how))
    files["znaxis_uncal.fits"] = _card(files["rice_1_uncal.fits"], 1, "ZNAXIS1", b"4611686018427387904")
    files["gzip_uncal.fits"] = gzip.compress(next(g))
    files["noend_uncal.fits"] = _no_end(next(g))
    cut = next(g)
    files["blockcut_uncal.fits"] = cut[: (len(cut) // 2880 - 1) * 2880]
    files["tform_uncal.fits"] = _card(next(g), 2, "TFORM1", b"'text'")
    files["caf\u00e9_uncal.fits"] = next(g)
    files["\u2603_uncal.fits"] = next(g)
    files["x" * 230 + "_uncal.fits"] = next(g)
    files["new\nline_uncal.fits"] = next(g)
    files["bell\x07_uncal.fits"] = next(g)
    return files


def test_hostile_files_are_quarantined_at_once(ray_cluster, stock, tmp_path):
    from streamcal.actors.service import Service

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    valid = [stock["img0"], stock["img1"], stock["dark0"]]
    hostile = _hostile([stock[f"img{k}"].read_bytes() for k in range(2, 12)])
    assert len(hostile) >= 40
    service = Service(_config(landing, products)).start()
    try:
        for name, data in hostile.items():
            staged = tmp_path / "staged"
            staged.mkdir(exist_ok=True)
            (staged / name).write_bytes(data)
            _land(staged / name, landing)
        for path in valid:
            _land(path, landing)
        assert service.wait_idle(120), service.errors
    finally:
        service.stop()
    reasons = {}
    for path in (products / "quarantine").glob("*.reason.json"):
        info = json.loads(path.read_text())
        reasons[info["file"]] = info
    assert set(reasons) == set(hostile), sorted(set(hostile) ^ set(reasons))
    assert all(info["reason"] and info["check"] for info in reasons.values())
    assert reasons["mask_mismatch_uncal.fits"]["check"] == "window"
    assert reasons["znaxis_uncal.fits"]["check"] == "compressed"
    assert reasons["gzip_uncal.fits"]["check"] == "fits"
    assert reasons["nframes_uncal.fits"]["check"] == "keywords"
    assert {reasons[n]["check"] for n in hostile if not n.isascii() or len(n) > 200 or "\n" in n} == {"name"}
    with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
        rows = {r["name"]: dict(r) for r in ledger._db.execute("SELECT * FROM files").fetchall()}
        for name in hostile:
            if name in rows:  # refused after routing: a ledger row, quarantined on its first attempt
                row = rows[name]
                events = [e["event"] for e in ledger.events(row["id"])]
                assert row["state"] == "quarantined" and row["error"], (name, row)
                assert events.count("started") <= 1 and "retried" not in events, (name, events)
        for path in valid:
            assert rows[path.name]["state"] in ("done", "waiting_association"), rows[path.name]
    made = {p.name for p in products.glob("*.fits")}
    for path in valid:
        suffixes = ("dark",) if "dark" in str(path.parent) else ("rate", "cal")
        assert {path.name.replace("uncal", s) for s in suffixes} <= made
    assert not list(products.glob(".*.part"))
