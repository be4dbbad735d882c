"""The quick start's main job: ``streamcal demo`` simulates a program and calibrates it."""

from streamcal.cli import main


def test_demo_runs_and_reports_every_product(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    products = sorted(p.name for p in (tmp_path / "products").iterdir())
    raws = sorted((tmp_path / "landing").glob("*_uncal.fits"))
    assert len(raws) == 9 and len(products) >= len(raws)  # every exposure made at least one product
    assert "image2 → image3" in out and "failed" not in out
    assert not any((tmp_path / "landing").glob("*truth*"))  # the landing directory holds raw files only
