"""Reading raw exposures as the archive ships them, writing products atomically."""

import os
import re

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
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "VAR_POISSON", "VAR_RNOISE", "PROVENANCE", "ASDF"]
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


# ------------------------------------------------------------ the input boundary (issue 9, point 8)

@pytest.fixture(scope="module")
def small_uncal(tmp_path_factory, refs):
    """A valid NIRCam SUB64P exposure (2 integrations of 3 groups)."""
    from streamcal.sim import simulate_to_directory

    out = tmp_path_factory.mktemp("small")
    return simulate_to_directory(out, refs=refs, detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P",
                                 ngroups=3, nints=2)[0]


def _with_card(src, dest, hdu: int, key: str, value: bytes):
    """``src`` with one raw card set (values astropy would never write: 1E999, 2**62 ...)."""
    from streamcal.boundary.mutate import seed_from_bytes, set_card

    seed = seed_from_bytes(src.name, src.read_bytes())
    data = bytearray(seed.data)
    assert set_card(data, seed.headers[hdu], key, value)
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("hdu, key, value, check, words", [
    (0, "NGROUPS", b"1E999", "keywords", "NGROUPS"),
    (0, "NFRAMES", b"2147483648", "keywords", "NFRAMES: 2147483648 is outside 1..1024"),
    (0, "NINTS", b"T", "keywords", "NINTS: True is not an integer"),
    (0, "TFRAME", b"'fast'", "keywords", "TFRAME"),
    (0, "DETECTOR", b"'NRC\xe9'", "fits", "non-ASCII"),
    (0, "TSOVISIT", b"'F'", "keywords", "TSOVISIT: 'F' is not a logical"),
    (0, "FASTAXIS", b"0", "keywords", "FASTAXIS=0"),
    (0, "SUBSTRT1", b"2040", "window", "beyond the 2048x2048 frame"),
    (0, "DETECTOR", b"'NRCZ9'", "keywords", "not a JWST detector"),
    (1, "NAXIS1", b"4611686018427387904", "size", "GiB"),
    (1, "NAXIS", b"999", "fits", "no NAXIS5 keyword"),
    (1, "BZERO", b"1E999", None, None),
])
def test_hostile_cards_are_refused_with_a_reason(tmp_path, small_uncal, hdu, key, value, check, words):
    """The findings of the fuzz run, one by one: each is a BadInputError naming the file and
    the problem (BZERO = 1E999 is either refused or read as a finite number, never a crash)."""
    path = _with_card(small_uncal, tmp_path / "hostile_uncal.fits", hdu, key, value)
    if check is None:
        try:
            ramp = read_raw(path)
        except BadInputError as exc:
            assert exc.path == str(path)
        else:
            assert ramp.data.dtype == np.float32
        return
    with pytest.raises(BadInputError) as info:
        read_raw(path)
    assert info.value.path == str(path) and info.value.check == check, info.value
    assert words in info.value.reason


@pytest.mark.parametrize("how", ["RICE_1", "GZIP_1", "GZIP_2", "HCOMPRESS_1", "PLIO_1"])
def test_tile_compressed_data_is_refused_unread(tmp_path, small_uncal, how):
    """JWST files are never tile-compressed: compressed SCI (HCOMPRESS aborted the process in
    cfitsio) is refused by the header walk, and a ZNAXIS of 2**62 changes nothing."""
    from streamcal.boundary.mutate import seed_from_bytes, set_card
    from streamcal.ingest import inspect

    with fits.open(small_uncal) as hdul:
        data = hdul["SCI"].data.astype(np.int32)
        comp = fits.CompImageHDU(data, name="SCI", compression_type=how, tile_shape=(1, 1) + data.shape[-2:])
        hdul["SCI"] = comp
        hdul.writeto(tmp_path / "c_uncal.fits")
    raw = (tmp_path / "c_uncal.fits").read_bytes()
    seed = seed_from_bytes("c", raw)
    edited = bytearray(raw)
    set_card(edited, seed.headers[1], "ZNAXIS1", b"4611686018427387904")
    (tmp_path / "z_uncal.fits").write_bytes(bytes(edited))
    for name in ("c_uncal.fits", "z_uncal.fits"):
        with pytest.raises(BadInputError, match=f"tile-compressed \\({how}\\)") as info:
            read_raw(tmp_path / name)
        assert info.value.check == "compressed"
        assert inspect(tmp_path / name, tmp_path, stable_seconds=0).check == "compressed"


def test_gzip_named_fits_and_odd_names(tmp_path, small_uncal):
    import gzip

    (tmp_path / "gz_uncal.fits").write_bytes(gzip.compress(small_uncal.read_bytes()))
    with pytest.raises(BadInputError, match="not a readable FITS file") as info:
        read_header(tmp_path / "gz_uncal.fits")
    assert info.value.check == "fits"
    for name in ("caf\u00e9_uncal.fits", "x" * 220 + "_uncal.fits", "tab\there_uncal.fits"):
        (tmp_path / name).write_bytes(small_uncal.read_bytes())
        with pytest.raises(BadInputError, match="file name") as info:
            read_raw(tmp_path / name)
        assert info.value.check == "name"


def test_reads_that_cannot_hang(tmp_path, small_uncal):
    """A named pipe is refused without blocking; a header with no END card in a 20 MB file is
    refused after a bounded number of blocks (astropy re-read the whole file)."""
    import threading
    import time

    fifo = tmp_path / "pipe_uncal.fits"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(_refusal(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    assert got == ["regular_file"]
    data = bytearray(small_uncal.read_bytes())
    end = data.find(b"END" + b" " * 77)
    data[end:end + 80] = b"COMMENT".ljust(80)
    (tmp_path / "noend_uncal.fits").write_bytes(bytes(data) + b"HISTORY and on".ljust(80) * 250_000)
    start = time.perf_counter()
    assert _refusal(tmp_path / "noend_uncal.fits") == "fits"
    assert time.perf_counter() - start < 2.0


def _refusal(path) -> str:
    try:
        read_raw(path)
    except BadInputError as exc:
        return exc.check
    return "accepted"


def test_memory_budget_is_checked_before_reading(tmp_path, small_uncal):
    from streamcal.boundary import raw_read_bytes, set_memory_budget

    needed = raw_read_bytes((2, 3, 64, 64), set())
    assert read_raw(small_uncal, budget=needed).data.shape == (2, 3, 64, 64)
    with pytest.raises(BadInputError, match="memory budget") as info:
        read_raw(small_uncal, budget=needed - 1)
    assert info.value.check == "budget"
    set_memory_budget(needed - 1)
    try:
        assert _refusal(small_uncal) == "budget"
    finally:
        set_memory_budget(None)


def test_arrays_that_disagree_with_sci(tmp_path, small_uncal):
    """DQ arrays are checked against SCI from their headers, before any data are read."""
    for name, array, words in (("PIXELDQ", np.zeros((64, 63), np.uint32), "PIXELDQ must be of shape (64, 64)"),
                               ("GROUPDQ", np.zeros((2, 3, 64, 64), np.float32), "GROUPDQ must be"),
                               ("ZEROFRAME", np.zeros((3, 64, 64), np.uint16), "ZEROFRAME must be of shape"),
                               ("GROUP", np.zeros(4), "GROUP is a ImageHDU, not a binary table")):
        with fits.open(small_uncal) as hdul:
            if name in hdul:
                del hdul[name]
            hdul.append(fits.ImageHDU(array, name=name))
            hdul.writeto(tmp_path / f"{name}_uncal.fits")
        with pytest.raises(BadInputError, match=re.escape(words)):
            read_raw(tmp_path / f"{name}_uncal.fits")


def test_data_frame_must_match_the_window_before_any_step(tmp_path, small_uncal, refs):
    """SUBSIZE disagreeing with the data (the references are cut by it) is bad input at the
    runner's check, not an IndexError in dq_init; nothing is written."""
    from streamcal.pipelines import calibrate_file

    with fits.open(small_uncal) as hdul:
        hdul[0].header["SUBSIZE1"] = 128
        hdul.writeto(tmp_path / "wide_uncal.fits")
    out = tmp_path / "out"
    with pytest.raises(BadInputError, match="SUBSIZE2 x SUBSIZE1 is 64x128") as info:
        calibrate_file(tmp_path / "wide_uncal.fits", out, refs)
    assert info.value.check == "window"
    assert not out.exists() or not list(out.iterdir())


def test_a_reference_that_does_not_fit_the_data(tmp_path, small_uncal, refs):
    """A mask of another frame size is named as a broken reference before dq_init runs."""
    from streamcal.errors import ReferenceFileError
    from streamcal.pipelines import calibrate_file
    from streamcal.refs import ReferenceSet

    ramp = read_raw(small_uncal)
    with fits.open(refs.select("mask", ramp.meta)) as hdul:
        hdul[0].header["SUBSIZE1"], hdul[0].header["SUBSIZE2"] = 64, 64   # claims the window, holds 2048x2048
        hdul[0].header["SUBARRAY"] = "SUB64P"
        hdul.writeto(tmp_path / "mask.fits")
    odd = ReferenceSet(overrides={"mask": tmp_path / "mask.fits"}, cache_dir=refs.directory)
    with pytest.raises(ReferenceFileError, match="dq_init: mask reference .* the data frame is \\(64, 64\\)"):
        calibrate_file(small_uncal, tmp_path / "out", odd)
