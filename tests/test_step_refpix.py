"""refpix: hand-worked kernels, orientation, subarray modes, MIRI, and agreement with a literal
re-implementation of jwst's reference_pixels.py algorithm (the yardstick below)."""

import numpy as np
import pytest
from scipy import stats

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.steps import refpix
from streamcal.steps._common import detector_view, detector_window
from streamcal.steps.refpix import miri, nir
from stepkit import ramp, ref

REF, DNU = dqflags.REFERENCE_PIXEL, dqflags.DO_NOT_USE
N = 2048


# ----------------------------------------------------------------------------- yardstick
# A literal, loop-by-loop transcription of jwst 3.0 reference_pixels.py (embedding subarrays in
# a full frame, scipy.stats.sigmaclip, a Python loop of np.median for the side pixels), written
# independently of streamcal's vectorised kernels.  Orientation follows FASTAXIS/SLOWAXIS.

def _to_det(a, fa, sa):
    if abs(fa) == 1:
        return a[::1 if sa > 0 else -1, ::1 if fa > 0 else -1]
    return a[::1 if fa > 0 else -1, ::1 if sa > 0 else -1].T


def _from_det(d, fa, sa):
    if abs(fa) == 1:
        return d[::1 if sa > 0 else -1, ::1 if fa > 0 else -1]
    return d.T[::1 if fa > 0 else -1, ::1 if sa > 0 else -1]


def _clip_mean(values, dq):
    good = values[(dq & DNU) == 0]
    if good.size == 0:
        return None
    if np.std(good) == 0:
        return good.mean()
    return stats.sigmaclip(good, 3.0, 3.0)[0].mean()


def _avg(a, b):
    if a is None or b is None:
        return b if a is None else a
    return 0.5 * (a + b)


def _side_median(data, dq, length):
    half = length // 2
    n = data.shape[0]
    aug = np.zeros((n + 2 * half, data.shape[1]))
    augdq = np.zeros((n + 2 * half, data.shape[1]), np.uint32)
    for arr, src in ((aug, data), (augdq, dq)):
        arr[half:half + n] = src
        arr[:half] = src[half:0:-1]
        arr[-half:] = src[-2:-(half + 2):-1]
    out = np.zeros(n)
    for i in range(n):
        win, wdq = aug[i:i + length], augdq[i:i + length]
        good = (wdq & DNU) == 0
        out[i] = np.median(win[good]) if good.any() else np.nan
    return out


def _combine(a, b):
    out = np.where(np.isnan(a), b, np.where(np.isnan(b), a, 0.5 * (a + b)))
    return np.nan_to_num(out)


def yardstick_nir(data, pdq, y0, x0, fa, sa, four_amp, odd_even=True, side=True, length=11, gain=1.0):
    ny, nx = pdq.shape
    full_dq = np.zeros((N, N), np.uint32)
    if (ny, nx) != (N, N):
        full_dq[:4], full_dq[-4:], full_dq[:, :4], full_dq[:, -4:] = (REF | DNU,) * 4
    full_dq[y0:y0 + ny, x0:x0 + nx] = pdq
    ddq = _to_det(full_dq, fa, sa)
    out = np.array(data, dtype=np.float64)
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            full = np.zeros((N, N))
            full[y0:y0 + ny, x0:x0 + nx] = data[i, g]
            d = _to_det(full, fa, sa).copy()
            if four_amp:
                for a in range(4):
                    cols = slice(512 * a, 512 * a + 512)
                    sig = {}
                    for par in ((0, 1) if odd_even else (None,)):
                        cs = slice(512 * a + par, 512 * a + 512, 2) if par is not None else cols
                        sig[par] = _avg(_clip_mean(d[N - 4:, cs], ddq[N - 4:, cs]), _clip_mean(d[:4, cs], ddq[:4, cs]))
                    if any(v is None for v in sig.values()):
                        continue
                    for par, v in sig.items():
                        cs = slice(512 * a + par, 512 * a + 512, 2) if par is not None else cols
                        d[:, cs] -= v
                if side:
                    left = _side_median(d[:, 0:4], ddq[:, 0:4], length)
                    right = _side_median(d[:, N - 4:], ddq[:, N - 4:], length)
                    d -= gain * _combine(left, right)[:, None]
            else:
                sel = ((ddq & REF) != 0) & ((ddq & DNU) == 0)
                rr, cc = np.nonzero(sel)
                if odd_even:
                    even = _clip_mean(d[rr[cc % 2 == 0], cc[cc % 2 == 0]], ddq[rr[cc % 2 == 0], cc[cc % 2 == 0]])
                    odd = _clip_mean(d[rr[cc % 2 == 1], cc[cc % 2 == 1]], ddq[rr[cc % 2 == 1], cc[cc % 2 == 1]])
                    d[:, 0::2] -= even
                    d[:, 1::2] -= odd
                else:
                    d -= _clip_mean(d[rr, cc], ddq[rr, cc])
            out[i, g] = _from_det(d, fa, sa)[y0:y0 + ny, x0:x0 + nx]
    return out


# ----------------------------------------------------------------------------- data

def _nir_border_dq(shape=(N, N)):
    pdq = np.zeros(shape, np.uint32)
    pdq[:4] |= REF
    pdq[-4:] |= REF
    pdq[:, :4] |= REF
    pdq[:, -4:] |= REF
    return pdq


def _drifting_ramp(rng, ngroups=2, nints=1, fa=-1, sa=2, with_light=False):
    """Full-frame DMS ramps with per-amplifier/parity/group offsets (sigma 20 DN), a row drift
    (5 DN sine + 1 DN row noise) and 3 DN white noise, all defined in the detector frame, plus
    light (0-500 DN per group) outside the reference border.  ``with_light`` also returns the
    light alone (DMS)."""
    det = np.zeros((nints, ngroups, N, N))
    light = np.zeros((nints, ngroups, N, N))
    rows = np.arange(N)
    for i in range(nints):
        for g in range(ngroups):
            offs = rng.normal(0, 20, (4, 2))
            for a in range(4):
                for p in range(2):
                    det[i, g, :, 512 * a + p:512 * a + 512:2] += offs[a, p]
            det[i, g] += (5 * np.sin(rows / 97.0 + g) + rng.normal(0, 1, N))[:, None]
            det[i, g] += rng.normal(0, 3, (N, N))
            light[i, g, 4:-4, 4:-4] = rng.uniform(0, 500, (N - 8, N - 8)) * (g + 1)
    det += light
    dms = np.stack([[_from_det(det[i, g], fa, sa) for g in range(ngroups)] for i in range(nints)])
    if with_light:
        return dms.astype(np.float32), np.stack([[_from_det(light[i, g], fa, sa) for g in range(ngroups)]
                                                 for i in range(nints)])
    return dms.astype(np.float32)


# ----------------------------------------------------------------------------- kernels

def test_top_bottom_parity_dnu_and_clipping():
    # 64x64 "detector", amplifiers 16 columns wide (32 reference pixels per amplifier, edge and
    # parity).  Even columns of the reference rows read 2 DN, odd ones 6 DN; one even reference
    # pixel is a 1000 DN outlier (z = 5.5 among 32: clipped) and one odd reference pixel is
    # DO_NOT_USE with a garbage value (ignored).
    det = np.zeros((1, 64, 64), np.float32)
    for r in list(range(4)) + list(range(60, 64)):
        det[0, r, 0::2], det[0, r, 1::2] = 2, 6
    det[0, 0, 2] = 1000.0
    det[0, 1, 1] = -555.0
    valid = np.ones((64, 64), bool)
    valid[1, 1] = False
    off = nir.top_bottom_offsets(det, valid, 0, 0, (64, 64))
    assert off[0].tolist() == [2.0, 6.0] * 32
    # Without odd/even columns: the mean of both parities, 4 DN (the outlier clipped again).
    off = nir.top_bottom_offsets(det, valid, 0, 0, (64, 64), odd_even_columns=False)
    assert off[0].tolist() == pytest.approx([4.0] * 64)


def test_top_bottom_missing_parity_leaves_amplifier():
    # Every even reference pixel of amplifier 0 is unusable: jwst leaves that amplifier alone.
    det = np.full((1, 16, 16), 3.0, np.float32)
    valid = np.ones((16, 16), bool)
    valid[:, 0:4:2] = False
    off = nir.top_bottom_offsets(det, valid, 0, 0, (16, 16))
    assert off[0, :4].tolist() == [0.0] * 4 and off[0, 4:].tolist() == [3.0] * 12


def test_side_running_median_reflection():
    # Side columns read the row number r; smoothing 3 rows: interior rows give r, row 0 sees
    # rows {1, 0, 1} (reflected) -> median 1, the last row sees {14, 15, 14} -> 14.
    det = np.zeros((1, 16, 16), np.float32)
    det[0, :, :4] = np.arange(16)[:, None]
    det[0, :, 12:] = np.arange(16)[:, None]
    rows = nir.side_offsets(det, np.ones((16, 16), bool), np.zeros((1, 16)), 0, 0, (16, 16), 3)
    assert rows[0].tolist() == [1.0] + list(range(1, 15)) + [14.0]
    # Only the left side usable: its median alone; neither: 0.
    valid = np.ones((16, 16), bool)
    valid[:, 12:] = False
    det[0, :, 12:] = 99
    assert nir.side_offsets(det, valid, np.zeros((1, 16)), 0, 0, (16, 16), 1)[0, 5] == 5.0
    valid[:, :4] = False
    assert (nir.side_offsets(det, valid, np.zeros((1, 16)), 0, 0, (16, 16), 1) == 0).all()


def test_single_output_parity_by_full_frame_column():
    # Window starting at detector column 3 (odd): local column 0 has odd parity.
    det = np.zeros((1, 2, 4), np.float32)
    det[0, 0] = [7, 1, 7, 1]     # reference row: odd full columns read 7, even ones 1
    refm = np.zeros((2, 4), bool)
    refm[0] = True
    off, missing = nir.single_output_offsets(det, refm, c0=3)
    assert off[0].tolist() == [7.0, 1.0, 7.0, 1.0] and missing == 0
    refm[0, 1::2] = False        # no even-parity reference pixels left
    off, missing = nir.single_output_offsets(det, refm, c0=3)
    assert off[0].tolist() == [7.0, 0.0, 7.0, 0.0] and missing == 1


@pytest.mark.parametrize("fa,sa", [(1, 2), (-1, 2), (1, -2), (2, 1), (-2, -1), (2, -1), (-2, 1)])
def test_orientation_helpers(fa, sa):
    full = np.arange(8 * 6).reshape(8, 6)
    rows, cols = slice(2, 5), slice(1, 4)
    r0, c0 = detector_window(fa, sa, rows, cols, full.shape)
    sub = detector_view(full[rows, cols], fa, sa)
    assert (detector_view(full, fa, sa)[r0:r0 + sub.shape[0], c0:c0 + sub.shape[1]] == sub).all()
    # to_dms_vectors inverts the view for separable corrections.
    R, C = np.arange(sub.shape[0]) * 10.0, np.arange(sub.shape[1]) * 1.0
    yv, xv = nir.to_dms_vectors(R, C, fa, sa)
    dms = np.zeros((3, 3))
    detector_view(dms, fa, sa)[...] = R[:, None] + C[None, :]
    assert np.array_equal(dms, yv[:, None] + xv[None, :])


# ----------------------------------------------------------------------------- adapter, NIR

@pytest.mark.parametrize("detector,fa,sa", [("NRCA1", -1, 2), ("NRS1", 2, 1), ("NIS", -2, -1)])
def test_full_frame_agrees_with_yardstick(detector, fa, sa):
    """Tolerance 2e-3 DN absolute on values up to ~1000 DN: float32 data (ulp 6e-5 DN) and
    float32-vs-float64 statistics; the clipping decisions are identical."""
    rng = np.random.default_rng(hash(detector) % 1000)
    data = _drifting_ramp(rng, fa=fa, sa=sa)
    pdq = _nir_border_dq()
    pdq[0, 100] |= DNU                     # an unusable reference pixel
    data[0, :, 2047, 700] += 5000          # a hot reference pixel (clipped)
    m = ramp(data.copy(), pixeldq=pdq, DETECTOR=detector, FASTAXIS=fa, SLOWAXIS=sa)
    m, rep = refpix.run(m, {}, refpix.Params())
    assert rep.status == "COMPLETE" and "4-amplifier" in rep.note
    expected = yardstick_nir(data, pdq, 0, 0, fa, sa, True)
    np.testing.assert_allclose(m.data, expected, atol=2e-3, rtol=0)


def test_full_frame_removes_drifts():
    """Accuracy against truth: after correction the science pixels equal light + noise.  Expected
    residual rms: 3 DN white noise, plus the 1 DN row-to-row drift component that an 11-row
    running median cannot follow, plus the noise of the side medians (1.25 * 3 / sqrt(44) / sqrt(2)
    = 0.4 DN): sqrt(9 + 1 + 0.16) = 3.19 DN; bound 3.25 DN.  The 20 DN amplifier offsets and the
    5 DN smooth drift are gone (mean residual < 0.1 DN)."""
    data, light = _drifting_ramp(np.random.default_rng(5), with_light=True)
    m = ramp(data, pixeldq=_nir_border_dq())
    refpix.run(m, {}, refpix.Params())
    resid = (m.data - light)[0, :, 4:-4, 4:-4]
    assert np.sqrt(np.mean(resid ** 2)) < 3.25
    assert abs(np.mean(resid)) < 0.1


def test_side_and_odd_even_switches():
    rng = np.random.default_rng(8)
    data = _drifting_ramp(rng, ngroups=1)
    pdq = _nir_border_dq()
    params = refpix.Params(odd_even_columns=False, use_side_ref_pixels=True, side_smoothing_length=10,
                           side_gain=0.5)
    m = ramp(data.copy(), pixeldq=pdq)
    refpix.run(m, {}, params)
    expected = yardstick_nir(data, pdq, 0, 0, -1, 2, True, odd_even=False, length=11, gain=0.5)
    np.testing.assert_allclose(m.data, expected, atol=2e-3, rtol=0)
    m = ramp(data.copy(), pixeldq=pdq)
    refpix.run(m, {}, refpix.Params(use_side_ref_pixels=False))
    expected = yardstick_nir(data, pdq, 0, 0, -1, 2, True, side=False)
    np.testing.assert_allclose(m.data, expected, atol=2e-3, rtol=0)


def test_four_output_subarray_agrees_with_yardstick():
    # A SUBGRISM256-like window (256 rows x 2048 columns, 4 outputs) at the bottom of the frame:
    # it holds the bottom reference rows and parts of both side columns.
    rng = np.random.default_rng(11)
    full = _drifting_ramp(rng, ngroups=2)
    y0, ny = 0, 256
    data = full[:, :, y0:y0 + ny].copy()
    pdq = _nir_border_dq()[y0:y0 + ny]
    m = ramp(data.copy(), pixeldq=pdq, SUBARRAY="SUBGRISM256", SUBSTRT1=1, SUBSTRT2=y0 + 1, NOUTPUTS=4)
    m, rep = refpix.run(m, {}, refpix.Params())
    assert rep.status == "COMPLETE"
    expected = yardstick_nir(data, pdq, y0, 0, -1, 2, True)
    np.testing.assert_allclose(m.data, expected, atol=2e-3, rtol=0)


def test_one_output_subarray_agrees_with_yardstick():
    # SUB64P-like window in the top-left corner (contains reference rows/columns), 1 output.
    rng = np.random.default_rng(12)
    full = _drifting_ramp(rng, ngroups=2)
    y0, x0 = N - 64, 0
    data = full[:, :, y0:, :64].copy()
    pdq = _nir_border_dq()[y0:, :64]
    m = ramp(data.copy(), pixeldq=pdq, SUBARRAY="SUB64P", SUBSTRT1=x0 + 1, SUBSTRT2=y0 + 1, NOUTPUTS=1)
    m, rep = refpix.run(m, {}, refpix.Params())
    assert "1-output" in rep.note
    expected = yardstick_nir(data, pdq, y0, x0, -1, 2, False)
    np.testing.assert_allclose(m.data, expected, atol=2e-3, rtol=0)


def test_nirspec_edgeless_subarray_hand():
    # NIRSpec SUB32 (32 rows x 2048 columns, DMS) on NRS1 (transposed: detector columns are DMS
    # rows).  Its first and last 4 DMS columns act as reference pixels.  Every pixel carries an
    # offset by detector-column parity (3 DN even, 8 DN odd); science columns also carry 100 DN.
    y0 = 1000                                    # detector column of DMS row 0 (even)
    ny, nx = 32, 2048
    parity = (y0 + np.arange(ny)) % 2
    data = np.where(parity[:, None] == 0, 3.0, 8.0) * np.ones((ny, nx))
    data[:, 4:-4] += 100
    m = ramp(data[None, None], INSTRUME="NIRSPEC", DETECTOR="NRS1", FASTAXIS=2, SLOWAXIS=1,
             SUBARRAY="SUB32", SUBSTRT1=1, SUBSTRT2=y0 + 1, NOUTPUTS=1)
    m, rep = refpix.run(m, {}, refpix.Params())
    assert rep.status == "COMPLETE"
    assert np.allclose(m.data[0, 0, :, 4:-4], 100.0) and np.allclose(m.data[0, 0, :, :4], 0.0)


def test_subarray_skips():
    # 4-output window in the middle of the detector: no reference pixel at all.
    m = ramp(np.ones((1, 1, 64, 2048)), SUBSTRT1=1, SUBSTRT2=900, NOUTPUTS=4, SUBARRAY="X")
    m.pixeldq[:, :] = 0
    m.pixeldq[:, :4] = DNU  # the side columns exist but are unusable
    m.pixeldq[:, -4:] = DNU
    _, rep = refpix.run(m, {}, refpix.Params())
    assert rep.status == "SKIPPED" and "no usable" in rep.note
    # 1-output subarray without REFERENCE_PIXEL flags.
    m = ramp(np.ones((1, 1, 64, 64)), SUBSTRT1=500, SUBSTRT2=500, NOUTPUTS=1, SUBARRAY="SUB64P")
    _, rep = refpix.run(m, {}, refpix.Params())
    assert rep.status == "SKIPPED"
    # window outside the frame
    m = ramp(np.ones((1, 1, 64, 64)), SUBSTRT1=2000, SUBSTRT2=1, NOUTPUTS=1, SUBARRAY="SUB64P")
    assert "does not fit" in refpix.run(m, {}, refpix.Params())[1].note


def test_zeroframe_corrected_and_zeros_kept():
    rng = np.random.default_rng(3)
    data = _drifting_ramp(rng, ngroups=1)
    zf = data[:, 0].copy()
    zf[0, 500, 500] = 0.0
    m = ramp(data.copy(), pixeldq=_nir_border_dq(), zeroframe=zf, ZEROFRAM=True)
    m, _ = refpix.run(m, {}, refpix.Params())
    assert m.zeroframe[0, 500, 500] == 0.0
    ok = np.ones((N, N), bool)
    ok[500, 500] = False
    np.testing.assert_allclose(m.zeroframe[0][ok], m.data[0, 0][ok], atol=1e-4)


def test_not_implemented_modes_and_params():
    m = ramp(np.ones((1, 1, 4, 4)), INSTRUME="NIRSPEC", DETECTOR="NRS1", READPATT="NRSIRS2")
    with pytest.raises(NotImplementedStepError, match="IRS2"):
        refpix.run(m, {}, refpix.Params())
    m = ramp(np.zeros((1, 1, N, N)), pixeldq=_nir_border_dq())
    with pytest.raises(NotImplementedStepError, match="sirs"):
        refpix.run(m, {"sirskernel": ref("sirskernel")}, refpix.Params(refpix_algorithm="sirs"))
    m, rep = refpix.run(m, {}, refpix.Params(refpix_algorithm="sirs"))
    assert rep.status == "COMPLETE" and "running median" in rep.note
    with pytest.raises(ValueError):
        refpix.Params(refpix_algorithm="fft")
    assert refpix.run(m, {}, refpix.Params(skip=True))[1].status == "SKIPPED"


# ----------------------------------------------------------------------------- MIRI

def yardstick_miri(data, pdq, odd_even=True):
    """Literal jwst MIRI algorithm: subtract group 0, per group/amp left+right clipped means."""
    out = np.array(data, dtype=np.float64)
    for i in range(data.shape[0]):
        first = out[i, 0].copy()
        out[i] -= first
        for g in range(1, data.shape[1]):
            grp = out[i, g]
            for k in range(4):
                pars = ((slice(0, None, 2), slice(1, None, 2)) if odd_even else (slice(None),))
                for rs in pars:
                    left = _clip_mean(grp[rs, k], pdq[rs, k])
                    right = _clip_mean(grp[rs, 1028 + k], pdq[rs, 1028 + k])
                    grp[rs, k::4] -= 0.5 * (left + right)
        out[i] += first
    return out


@pytest.mark.parametrize("odd_even", [True, False])
def test_miri_full_frame_agrees_with_yardstick(odd_even):
    rng = np.random.default_rng(21)
    ngroups = 3
    data = rng.normal(10000, 4, (1, ngroups, 1024, 1032))
    for g in range(ngroups):
        for k in range(4):
            data[0, g, 0::2, k::4] += rng.normal(0, 10)
            data[0, g, 1::2, k::4] += rng.normal(0, 10)
    data[0, :, :, 4:1028] += rng.uniform(0, 100, (1024, 1024)) * np.arange(ngroups)[:, None, None]
    data = data.astype(np.float32)
    pdq = np.zeros((1024, 1032), np.uint32)
    pdq[:, :4] = REF
    pdq[:, 1028:] = REF
    pdq[10, 2] |= DNU
    m = ramp(data.copy(), miri=True, pixeldq=pdq)
    m, rep = refpix.run(m, {}, refpix.Params(odd_even_rows=odd_even))
    assert rep.status == "COMPLETE"
    # Tolerance 2e-3 DN on ~10^4 DN float32 values (ulp 1e-3 DN).
    np.testing.assert_allclose(m.data, yardstick_miri(data, pdq, odd_even), atol=2e-3, rtol=0)
    assert (m.data[:, 0] == data[:, 0]).all()


def test_miri_subarray_and_bad_reference_skip():
    m = ramp(np.ones((1, 2, 64, 72)), miri=True, SUBARRAY="SUB64")
    assert "subarray" in refpix.run(m, {}, refpix.Params())[1].note
    pdq = np.zeros((1024, 1032), np.uint32)
    pdq[:, 1] = DNU
    m = ramp(np.ones((1, 2, 1024, 1032)), miri=True, pixeldq=pdq)
    assert refpix.run(m, {}, refpix.Params())[1].status == "SKIPPED"


def test_miri_offsets_kernel():
    d = np.zeros((2, 4, 1032), np.float32)
    d[1, :, 0] = 4.0                         # left column of amp 0: 4 DN, right: 0 -> 2 DN
    off = miri.miri_offsets(d, np.ones((4, 1032), bool), odd_even_rows=True)
    assert off[1, :, 0].tolist() == [2.0, 2.0] and off[1, :, 1:].sum() == 0
