"""Reading raw exposures as the archive ships them, writing products atomically."""

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from streamcal import dqflags
from streamcal.errors import BadInputError
from streamcal.fitsio import atomic_write, read_header, read_raw, write_image
from streamcal.models import ImageModel, product_name
from streamcal.provenance import Provenance, StepRecord


def test_read_real_fgs_uncal(fgs_acq1):
    """The real FGS ACQ1 file: int16+BZERO on disk -> uint16 DN values as float32, DQ created."""
    ramp = read_raw(fgs_acq1)
    assert ramp.data.shape == (6, 2, 128, 128) and ramp.data.dtype == np.float32
    # SOURCES.md: values 5886..64364 once BZERO is applied
    assert ramp.data.min() == 5886 and ramp.data.max() == 64364
    assert ramp.pixeldq.shape == (128, 128) and ramp.pixeldq.dtype == np.uint32 and not ramp.pixeldq.any()
    assert ramp.groupdq.shape == ramp.data.shape and ramp.groupdq.dtype == np.uint8
    m = ramp.meta
    assert (m.instrument, m.detector, m.exp_type) == ("FGS", "GUIDER2", "FGS_ACQ1")
    assert (m.substrt1, m.substrt2, m.subsize1, m.subsize2) == (887, 1022, 128, 128)
    assert m.tgroup == pytest.approx(0.364)
    rows, cols = m.window()
    assert (rows.start, cols.start) == (1021, 886)


@pytest.mark.parametrize("name", ["jw01075001001_03105_00009_nrca2_uncal.fits", "fgs_track_guider1.fits",
                                  "fgs_fineguide_guider2.fits", "fgs_id-image_guider1.fits"])
def test_read_real_header_only_files(name):
    """Header-only archive files (SCI cut to 1x1x1x1) still read; the header says the real size."""
    path = extdata("fits_header_only", name)
    ramp = read_raw(path)
    assert ramp.data.shape == (1, 1, 1, 1)
    assert ramp.meta.subsize1 == read_header(path)["SUBSIZE1"]


def test_product_names():
    assert product_name("jw02079004001_03201_00001_nrca1_uncal.fits", "rateints") == \
        "jw02079004001_03201_00001_nrca1_rateints.fits"


def test_write_image_carries_provenance(tmp_path, fgs_acq1):
    ramp = read_raw(fgs_acq1)
    ny = nx = 4
    model = ImageModel(meta=ramp.meta, header=ramp.header, data=np.ones((ny, nx), np.float32),
                       err=np.ones((ny, nx), np.float32), dq=np.full((ny, nx), dqflags.JUMP_DET, np.uint32),
                       var_poisson=np.zeros((ny, nx), np.float32), var_rnoise=np.zeros((ny, nx), np.float32))
    prov = Provenance("calwebb_detector1", "x_uncal.fits", "ab" * 32)
    prov.steps.append(StepRecord("jump", "COMPLETE", "S_JUMP", {"rejection_threshold": 4.0},
                                 {"gain": "/refs/g.fits"}))
    path = write_image(model, tmp_path / "x_rate.fits", prov)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "PROVENANCE"]
        h = hdul[0].header
        assert h["S_JUMP"] == "COMPLETE" and h["R_GAIN"] == "g.fits" and h["SC_INSHA"] == "ab" * 32
        assert hdul["SCI"].header["BUNIT"] == "DN/s"
        assert hdul["DQ"].data.dtype.kind == "u" or hdul["DQ"].header.get("BZERO") == 2**31
        assert "rejection_threshold" in hdul["PROVENANCE"].data["PARAMETERS"][0]
    assert not list(tmp_path.glob(".*part"))  # no temporary left behind


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    class Boom(fits.HDUList):
        def writeto(self, *a, **k):
            raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(Boom([fits.PrimaryHDU()]), tmp_path / "p.fits")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,check", [(b"SIMPLE  = not really\n" * 10, "fits"), (b"", "fits")])
def test_not_fits(tmp_path, content, check):
    path = tmp_path / "junk_uncal.fits"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="junk_uncal.fits") as info:
        read_raw(path)
    assert info.value.check == check


def test_truncated(tmp_path, fgs_acq1):
    data = fgs_acq1.read_bytes()
    path = tmp_path / "cut_uncal.fits"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="truncated"):
        read_raw(path)
