"""The quick start's main job: ``streamcal demo`` simulates a program and calibrates it."""

from streamcal.cli import main


def test_demo_runs_and_reports_every_product(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    products = sorted(p.name for p in (tmp_path / "products").iterdir())
    raws = sorted((tmp_path / "landing").glob("*_uncal.fits"))
    assert len(raws) == 9 and len(products) >= len(raws)  # every exposure made at least one product
    assert "image2 → image3" in out and "failed" not in out
    # the NIRCam 4-point dither became one mosaic and one catalog (stage 3), once all 4 landed
    dither = "jw01234-o001_t001_nircam_clear-f200w-sub400p"
    assert f"{dither}_i2d.fits" in products and f"{dither}_cat.ecsv" in products
    from streamcal.ledger import Ledger

    with Ledger(tmp_path / "products" / "ledger.sqlite", synchronous="NORMAL") as ledger:
        (rec,) = [a for a in ledger.associations() if a.product == dither]
    assert rec.state == "done" and not rec.partial and len(rec.members) == 4
    assert "mosaics, catalogs and light curves" in out
    # the NIRCam imaging time series ended in its light curve (tso3), one row per integration
    (phot,) = (tmp_path / "products").glob("jw01234-*_phot.ecsv")
    assert "phot: 20 integrations" in out and phot.is_file()
    from streamcal.sinks.catalogs import CatalogDataset

    assert CatalogDataset(tmp_path / "products" / "lightcurves").read().num_rows == 20   # and in Parquet
    assert not any((tmp_path / "landing").glob("*truth*"))  # the landing directory holds raw files only
