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


# ------------------------------------------------------------------------ stage 2: cal / calints

def _cal_model(shape=(3, 5, 4), with_wcs=True):
    from streamcal.models import ExposureMeta
    from streamcal.wcs import Pointing, imaging_wcs
    from stepkit import header

    nints = shape[0] if len(shape) == 3 else 1
    hdr = header(nints, 2, shape[-2], shape[-1], EXPMID=60000.5)
    rng = np.random.default_rng(0)
    arr = lambda: rng.normal(1.0, 0.1, shape).astype(np.float32)  # noqa: E731
    sci_header = fits.Header({"PHOTMJSR": 3.4, "PIXAR_SR": 2.3e-14, "A_ORDER": 3, "A_2_0": 1.5e-7})
    wcs = imaging_wcs(Pointing(53.16, -27.79, 120.6, -527.5, 10.0), shape=shape[-2:], pixel_scale=0.031) \
        if with_wcs else None
    return ImageModel(meta=ExposureMeta.from_header(hdr, (nints, 2) + shape[-2:]), header=hdr, data=arr(),
                      err=arr(), dq=np.full(shape, dqflags.NO_FLAT_FIELD | dqflags.DO_NOT_USE, np.uint32),
                      var_poisson=arr(), var_rnoise=arr(), var_flat=arr(), area=arr()[..., 0, :, :] if len(shape) == 3 else arr(),
                      sci_header=sci_header, bunit="MJy/sr", wcs=wcs,
                      int_times=np.zeros(nints, dtype=[("integration_number", "i4"), ("int_mid_MJD_UTC", "f8")]))


@pytest.mark.parametrize("shape", [(5, 4), (3, 5, 4)])
def test_cal_round_trip(tmp_path, shape):
    """write_cal -> read_cal gives back every array bit for bit, BUNIT, the SCI header (SIP,
    PHOTMJSR), INT_TIMES and the gwcs (evaluated at a few pixels: identical)."""
    from streamcal.fitsio import read_cal, write_cal

    model = _cal_model(shape)
    path = write_cal(model, tmp_path / "x_cal.fits", Provenance("calwebb_image2", "x_rate.fits", "0" * 64))
    with fits.open(path) as hdul:
        names = [h.name for h in hdul]
        assert names[:9] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT", "AREA", "INT_TIMES"]
        assert names[-1] == "ASDF" and hdul[0].header["DATAMODL"] == ("CubeModel" if len(shape) == 3 else "ImageModel")
        assert hdul["VAR_FLAT"].header["BUNIT"] == "(MJy/sr)**2"
    back = read_cal(path)
    for name in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat", "area"):
        a, b = getattr(model, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.bunit == "MJy/sr" and back.sci_header["PHOTMJSR"] == 3.4 and back.sci_header["A_2_0"] == 1.5e-7
    assert back.meta.detector == "NRCA1" and len(back.int_times) == model.int_times.size
    x, y = np.array([0.0, 2.0, 3.0]), np.array([0.0, 4.0, 1.0])
    np.testing.assert_array_equal(np.array(back.wcs(x, y)), np.array(model.wcs(x, y)))
    assert back.wcs.output_frame.name == "world"


def test_read_cal_of_a_rate_without_wcs(tmp_path):
    from streamcal.fitsio import read_cal

    model = _cal_model((5, 4), with_wcs=False)
    model.var_flat = model.area = None
    back = read_cal(write_image(model, tmp_path / "y_rate.fits"))
    assert back.wcs is None and back.var_flat is None and back.area is None


def _hostile(tmp_path, edit):
    from streamcal.fitsio import write_cal

    path = write_cal(_cal_model((5, 4)), tmp_path / "z_cal.fits")
    with fits.open(path) as hdul:
        edit(hdul)
        bad = tmp_path / "bad_cal.fits"
        hdul.writeto(bad)
    return bad


@pytest.mark.parametrize("edit, words", [
    (lambda h: h.__setitem__("ERR", fits.ImageHDU(np.zeros((2, 2), np.float32), name="ERR")), "ERR must be"),
    (lambda h: h.__setitem__("SCI", fits.ImageHDU(np.zeros((1, 1, 5, 4), np.float32), name="SCI")), "2-D or 3-D"),
    (lambda h: h.__setitem__("DQ", fits.ImageHDU(np.zeros((5, 4), np.float32), name="DQ")), "DQ must be"),
    (lambda h: h[0].header.remove("NINTS"), "missing required keywords"),
    (lambda h: h.__setitem__("ASDF", fits.BinTableHDU.from_columns(
        [fits.Column("ASDF_METADATA", "16B", array=np.frombuffer(b"#ASDF 1.0.0\n!!!!", np.uint8)[None])],
        name="ASDF")), "ASDF"),
    (lambda h: h.pop(h.index_of("SCI")), "no SCI"),
])
def test_read_cal_rejects_hostile_files(tmp_path, edit, words):
    from streamcal.fitsio import read_cal

    with pytest.raises(BadInputError, match=words):
        read_cal(_hostile(tmp_path, edit))
