"""A user directory of JWST-format reference files: index, CRDS-like selection, cut-outs,
DQ_DEF translation, and the real CRDS files of extdata."""

import os

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from streamcal import dqflags
from streamcal.errors import ReferenceFileError
from streamcal.models import ExposureMeta
from streamcal.refs import ReferenceSet
from streamcal.refs.io import dq_def_hdu, read_reffile
from streamcal.refs.select import RefKeys, best, cutout_window, keys_from_header, match_score, value_matches
from test_refs import meta_for


def write_ref(directory, name, reftype="GAIN", *, shape=(2048, 2048), window=(1, 1), subarray="FULL",
              data=None, dq=None, dq_def=None, **cards):
    """A small JWST-format reference file; ``shape`` is (ny, nx) of the file's window."""
    hdr = fits.Header()
    base = {"REFTYPE": reftype, "INSTRUME": "NIRISS", "DETECTOR": "NIS", "SUBARRAY": subarray,
            "SUBSTRT1": window[0], "SUBSTRT2": window[1], "SUBSIZE1": shape[1], "SUBSIZE2": shape[0],
            "USEAFTER": "2022-01-01T00:00:00", "PEDIGREE": "GROUND", "DESCRIP": "test", "AUTHOR": "test"}
    for key, value in {**base, **cards}.items():
        if value is not None:
            hdr[key] = value
    # tiny images: the window keywords, not the array size, define the frame (arrays of another
    # shape are returned whole), so most files here carry a 1x1 SCI to stay small
    hdus = [fits.PrimaryHDU(header=hdr), fits.ImageHDU(np.ones((1, 1), np.float32) if data is None else data,
                                                      name="SCI")]
    if dq is not None:
        hdus.append(fits.ImageHDU(dq, name="DQ"))
    if dq_def is not None:
        hdus.append(dq_def_hdu(dq_def))
    path = directory / name
    fits.HDUList(hdus).writeto(path)
    return path


# -------------------------------------------------------------------------- pure rules

def test_value_matches():
    assert value_matches("NIS|NISRAPID", "NISRAPID") is True
    assert value_matches("NIS|NISRAPID", "FGS") is False
    assert value_matches("N/A", "anything") is None and value_matches("ANY", "x") is None


def test_pattern_keywords_override_plain_ones():
    k = keys_from_header("f.fits", {"REFTYPE": "DARK", "INSTRUME": "NIRCAM", "READPATT": "RAPID",
                                    "P_READPA": "RAPID | BRIGHT1 |", "P_EXP_TY": "NRC_IMAGE|NRC_TSIMAGE|"})
    assert (k.readpatt, k.exp_type) == ("RAPID|BRIGHT1", "NRC_IMAGE|NRC_TSIMAGE")


def test_cutout_window_rule():
    # jwst reffile_utils: x0 = SUBSTRT1_sci - SUBSTRT1_ref, y0 = SUBSTRT2_sci - SUBSTRT2_ref
    keys = RefKeys("r.fits", "gain", "NIRISS", substrt1=1, substrt2=1793, subsize1=2048, subsize2=256)
    m = meta_for("NIS", "SUBSTRIP96")                                   # SUBSTRT2 = 1803, 96 rows
    assert cutout_window(keys, m) == (slice(10, 106), slice(0, 2048))
    assert cutout_window(keys, meta_for("NIS", "SUBSTRIP256")) is None  # same window: no cut


def test_specificity_and_useafter():
    m = meta_for("NIS", "SUBSTRIP256", readpatt="NISRAPID", exp_type="NIS_SOSS")
    generic = RefKeys("a.fits", "gain", "NIRISS", subsize1=2048, subsize2=2048, useafter="2023")
    exact = RefKeys("b.fits", "gain", "NIRISS", subarray="SUBSTRIP256", substrt2=1793, subsize1=2048,
                    subsize2=256, useafter="2022")
    patt = RefKeys("c.fits", "gain", "NIRISS", subsize1=2048, subsize2=2048, readpatt="NIS|NISRAPID",
                   useafter="2021")
    wrong = RefKeys("d.fits", "gain", "NIRISS", subsize1=2048, subsize2=2048, exp_type="NIS_IMAGE")
    # exact window (2) beats a cut-out (1); a named READPATT adds 1: b = 2, c = 1 + 1, a = 1
    assert match_score(exact, "gain", m) == 2 and match_score(patt, "gain", m) == 2
    assert match_score(generic, "gain", m) == 1 and match_score(wrong, "gain", m) is None
    assert best([generic, patt, wrong], "gain", m).path == "c.fits"
    assert best([generic, exact, patt], "gain", m).path == "b.fits"     # tie 2-2: later USEAFTER
    later = RefKeys("e.fits", "gain", "NIRISS", subsize1=2048, subsize2=2048, useafter="2024")
    assert best([generic, later], "gain", m).path == "e.fits"


def test_dark_needs_exact_window():
    m = meta_for("NIS", "SUB80")
    full_dark = RefKeys("d.fits", "dark", "NIRISS", subsize1=2048, subsize2=2048)
    assert match_score(full_dark, "dark", m) is None
    assert match_score(RefKeys("d.fits", "gain", "NIRISS", subsize1=2048, subsize2=2048), "gain", m) == 1


# ------------------------------------------------------------------------ user directory

@pytest.fixture
def user_dir(tmp_path):
    write_ref(tmp_path, "gain_full.fits", USEAFTER="2022-01-01T00:00:00")
    write_ref(tmp_path, "gain_full_newer.fits", USEAFTER="2023-06-01T00:00:00")
    write_ref(tmp_path, "gain_soss.fits", shape=(256, 2048), window=(1, 1793), subarray="SUBSTRIP256",
              P_EXP_TY="NIS_SOSS | NIS_TACQ |")
    write_ref(tmp_path, "dark_sub80.fits", "DARK", shape=(80, 80), subarray="SUB80", READPATT="NISRAPID")
    write_ref(tmp_path, "dark_full_nis.fits", "DARK", P_READPA="NIS |")
    write_ref(tmp_path, "readnoise_filter.fits", "READNOISE", FILTER="F150W")
    write_ref(tmp_path, "readnoise_any.fits", "READNOISE", USEAFTER="2030-01-01T00:00:00")
    write_ref(tmp_path, "gain_nrca1.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1")
    (tmp_path / "notes.txt").write_text("not a reference file")
    (tmp_path / "broken.fits").write_bytes(b"SIMPLE  = this is not FITS")
    return tmp_path


def test_directory_selection_rules(user_dir):
    refs = ReferenceSet(user_dir)
    soss = meta_for("NIS", "SUBSTRIP256", exp_type="NIS_SOSS")
    assert refs.select("gain", soss).name == "gain_soss.fits"           # exact window + EXP_TYPE pattern
    assert refs.select("gain", meta_for("NIS", "SUBSTRIP256", exp_type="NIS_WFSS")).name == "gain_full_newer.fits"
    assert refs.select("gain", meta_for("NIS")).name == "gain_full_newer.fits"   # latest USEAFTER
    assert refs.select("dark", meta_for("NIS", "SUB80")).name == "dark_sub80.fits"
    assert refs.select("dark", meta_for("NIS", "SUB64")) is None        # no cut-out for darks: N/A
    assert refs.select("dark", meta_for("NIS", readpatt="NIS")).name == "dark_full_nis.fits"
    assert refs.select("dark", meta_for("NIS", readpatt="NISRAPID")) is None
    # a named FILTER beats a newer file that names none
    assert refs.select("readnoise", meta_for("NIS", pupil="CLEAR", filter="F150W")).name == "readnoise_filter.fits"
    assert refs.select("readnoise", meta_for("NIS", filter="F200W")).name == "readnoise_any.fits"
    assert refs.select("gain", meta_for("NRCA1")).name == "gain_nrca1.fits"
    assert refs.select("gain", meta_for("NRCA2")) is None               # DETECTOR must match
    assert refs.select("linearity", meta_for("NIS")) is None


def test_index_json_and_refresh(user_dir):
    refs = ReferenceSet(user_dir)
    index = user_dir / "index.json"
    assert index.is_file()
    names = {os.path.basename(k.path) for k in refs.indexed()}
    assert "gain_soss.fits" in names and "broken.fits" not in names     # unreadable: skipped, logged
    write_ref(user_dir, "gain_latest.fits", USEAFTER="2025-01-01T00:00:00")
    (user_dir / "gain_soss.fits").unlink()
    refs.refresh()
    assert refs.select("gain", meta_for("NIS")).name == "gain_latest.fits"
    assert refs.select("gain", meta_for("NIS", "SUBSTRIP256", exp_type="NIS_SOSS")).name == "gain_latest.fits"
    again = ReferenceSet(user_dir)                                      # reuses index.json
    assert {k.path for k in again.indexed()} == {k.path for k in refs.indexed()}


def test_cutout_from_user_file_and_dq_def_translation(tmp_path):
    data = np.arange(2048 * 2048, dtype=np.float32).reshape(2048, 2048)
    dq = np.zeros((2048, 2048), np.uint8)
    dq[1800, 5] = 1                                                     # local bit 1 = DEAD
    dq[1801, 6] = 2 | 1                                                 # local 2 = NO_SAT_CHECK
    write_ref(tmp_path, "sat.fits", "SATURATION", data=data, dq=dq, dq_def={"DEAD": 1, "NO_SAT_CHECK": 2})
    m = meta_for("NIS", "SUBSTRIP96")                                   # rows 1802..1897 (0-based)
    ref = ReferenceSet(tmp_path).get("saturation", m)
    assert np.array_equal(ref.arrays["SCI"], data[1802:1898, :])
    full = read_reffile(tmp_path / "sat.fits")
    assert full.arrays["DQ"][1800, 5] == dqflags.DEAD
    assert full.arrays["DQ"][1801, 6] == dqflags.DEAD | dqflags.NO_SAT_CHECK
    assert full.arrays["SCI"].dtype.byteorder in ("=", "|")             # native for numba kernels


def test_unreadable_selected_file_names_it(tmp_path):
    bad = tmp_path / "bad_gain.fits"
    bad.write_bytes(b"\0" * 100)
    with pytest.raises(ReferenceFileError, match="bad_gain.fits"):
        ReferenceSet(overrides={"gain": bad}).get("gain", meta_for("NIS"))
    with pytest.raises(ReferenceFileError, match="does not exist"):
        ReferenceSet(tmp_path / "nowhere")


# --------------------------------------------------------------------- real CRDS files

@pytest.fixture
def crds_dir(tmp_path):
    """The real reference files of extdata, linked (not copied) into a user directory."""
    for name in ("jwst_nirspec_ipc_with_asdf_extension.fits", "jwst_miri_flat_slitlessprism.fits",
                 "jwst_nircam_psfmask_0003.fits"):
        (tmp_path / name).symlink_to(extdata("reffiles", name))
    return tmp_path


def test_real_nirspec_ipc_with_asdf_extension(crds_dir):
    refs = ReferenceSet(crds_dir)
    m = meta_for("NRS1", "SUB2048")
    path = refs.select("ipc", m)
    assert path.name == "jwst_nirspec_ipc_with_asdf_extension.fits"
    ref = refs.get("ipc", m)
    assert ref.reftype == "ipc" and list(ref.arrays) == ["SCI"]          # the ASDF extension is ignored
    kernel = ref.arrays["SCI"]
    assert kernel.shape == (3, 3) and kernel.dtype == np.float32 and kernel.dtype.byteorder in ("=", "|")
    assert kernel.sum() == pytest.approx(1.0, abs=1e-3) and kernel[1, 1] > 1
    assert refs.select("ipc", meta_for("NRS2")) is None                 # DETECTOR=NRS1


def test_real_miri_flat(crds_dir):
    refs = ReferenceSet(crds_dir)
    keys = next(k for k in refs.indexed() if k.reftype == "flat")
    assert (keys.instrument, keys.detector, keys.subarray, keys.substrt2, keys.subsize2) == \
        ("MIRI", "MIRIMAGE", "SLITLESSPRISM", 321, 704)
    m = ExposureMeta(filename="x", instrument="MIRI", detector="MIRIMAGE", exp_type="MIR_LRS-SLITLESSPRISM",
                     nints=1, ngroups=5, nframes=1, groupgap=0, tframe=0.159, tgroup=0.159, filter="FOO",
                     subarray="SLITLESSPRISM", substrt1=1, substrt2=321, subsize1=68, subsize2=704)
    ref = refs.get("flat", m)
    assert ref is not None and ref.arrays["SCI"].shape == (704, 68) and "METADATA" not in ref.arrays
    raw = fits.getdata(crds_dir / "jwst_miri_flat_slitlessprism.fits", "DQ")
    # DQ_DEF maps bit value 1 to DO_NOT_USE: translation keeps it
    assert np.array_equal(ref.arrays["DQ"] & dqflags.DO_NOT_USE, (raw & 1).astype(np.uint32))
    assert refs.select("flat", ExposureMeta(**{**m.__dict__, "filter": "F770W"})) is None   # FILTER='foo'


def test_real_psfmask_is_indexed(crds_dir):
    keys = [k for k in ReferenceSet(crds_dir).indexed() if k.reftype == "psfmask"]
    assert len(keys) == 1 and keys[0].detector == "NRCALONG" and keys[0].subsize1 == 320


def test_useafter_excludes_files_newer_than_the_exposure():
    """CRDS rule: a file applies to exposures taken at or after its USEAFTER."""
    from dataclasses import replace

    from streamcal.refs.select import RefKeys, best

    meta = ExposureMeta(filename="x", instrument="NIRCAM", detector="NRCA1", exp_type="NRC_IMAGE",
                        nints=1, ngroups=2, nframes=1, groupgap=0, tframe=1.0, tgroup=1.0,
                        subsize1=2048, subsize2=2048, date_obs="2023-06-01T12:00:00.5")
    old = RefKeys(path="old.fits", reftype="gain", instrument="NIRCAM", detector="NRCA1",
                  subsize1=2048, subsize2=2048, useafter="Jan 01 2022 00:00:00")
    new = replace(old, path="new.fits", useafter="2024-01-01T00:00:00")
    assert best([old, new], "gain", meta).path == "old.fits"
    assert best([old, new], "gain", replace(meta, date_obs="2024-02-01")).path == "new.fits"
    assert best([old, new], "gain", replace(meta, date_obs="")).path == "new.fits"  # date unknown


def test_synthetic_nirspec_flat_selects_like_crds(refs):
    """The synthetic NIRSpec FLAT, read as a user-directory file, carries its CRDS-style
    selectors (EXP_TYPE pattern of the imaging types, FILTER): it applies to NRS_TACQ and
    NRS_IMAGE through CLEAR on NRS1, never to a spectroscopic exposure, another filter or NRS2."""
    path = refs.select("flat", meta_for("NRS1", exp_type="NRS_TACQ", filter="CLEAR"))
    keys = keys_from_header(str(path), fits.getheader(path))
    assert "NRS_FIXEDSLIT" not in keys.exp_type.split("|") and keys.filter == "CLEAR"
    for exp_type, applies in [("NRS_TACQ", True), ("NRS_IMAGE", True), ("NRS_WATA", True),
                              ("NRS_FIXEDSLIT", False), ("NRS_IFU", False), ("NRS_MSASPEC", False)]:
        chosen = best([keys], "flat", meta_for("NRS1", exp_type=exp_type, filter="CLEAR"))
        assert (chosen is not None) == applies, exp_type
    assert best([keys], "flat", meta_for("NRS1", exp_type="NRS_IMAGE", filter="F110W")) is None
    assert best([keys], "flat", meta_for("NRS2", exp_type="NRS_IMAGE", filter="CLEAR")) is None
