"""Fuzzing the input boundary: seeded hostile files through every entry point.

Each case is a valid small exposure mutated one way (:mod:`streamcal.boundary.mutate`: byte
flips, truncation, absurd or wrongly typed cards, wrong shapes and types, missing and extra
extensions, tile compression, gzip under a .fits name, headers without END, odd names) and
goes, in a worker process with a private-memory limit and a timeout, through the ingest check,
the header read and routing, the raw read and -- for some -- ``calwebb_detector1``
(:mod:`streamcal.boundary.fuzz`).  Nothing but streamcal's own refusals may come out, nothing
may hang, crash the worker or run out of the memory limit, and a failed calibration leaves
nothing in its output directory.  A failing case is reproduced by number:
``python -m streamcal.boundary.fuzz --seed S --first N --cases 1``.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamcal.boundary import fuzz, mutate
from streamcal.errors import BadInputError

#: Seeds of the two campaigns (fixed: a failure is reproducible by case number).
CI_SEED, SLOW_SEED = 20261125, 7
#: What each worker may allocate (RLIMIT_DATA) and what the readers are told they may use.
LIMIT, BUDGET = 3 << 30, 1 << 30


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, refs):
    return fuzz.make_seeds(tmp_path_factory.mktemp("fuzz_seeds"), refs)


def _assert_clean(summary: fuzz.FuzzSummary, results: list[fuzz.CaseResult]) -> None:
    dirty = [r for r in results if not r.clean]
    detail = "\n".join(f"case {r.case} {r.kind} ({r.detail}): {r.escapes or ''} hung={r.hung} "
                       f"crashed={r.crashed} leftovers={r.leftovers}" for r in dirty[:15])
    assert not dirty, summary.text() + "\n" + detail


def test_fuzz_every_entry_point(tmp_path, seeds):
    """2 000 hostile files (60 through calwebb_detector1): no foreign exception, no hang, no
    crash, nothing over the memory limit, no partial product; every mutation kind drawn."""
    summary, results = fuzz.run_campaign(tmp_path, cases=2000, run_seed=CI_SEED, detector1_every=33,
                                         timeout=20.0, limit_bytes=LIMIT, budget_bytes=BUDGET, seeds=seeds)
    _assert_clean(summary, results)
    assert summary.cases == 2000 and summary.detector1 == 61
    assert set(summary.by_kind) == set(mutate.KINDS), summary.by_kind
    refused = sum(("raw", "bad") in r.outcomes for r in results)
    assert refused > 1000, f"only {refused} refusals: the mutations are too tame"


@pytest.mark.slow
def test_fuzz_detector1(tmp_path, seeds):
    """300 hostile files, every one through calwebb_detector1 as well."""
    summary, results = fuzz.run_campaign(tmp_path, cases=300, run_seed=SLOW_SEED, detector1_every=1,
                                         timeout=30.0, limit_bytes=LIMIT, budget_bytes=BUDGET, seeds=seeds)
    _assert_clean(summary, results)
    assert summary.detector1 == 300
    assert sum(("detector1", "ok") in r.outcomes for r in results) > 10  # some mutations are harmless


def test_the_harness_sees_escapes_hangs_and_leftovers(tmp_path):
    """The harness's own verdicts: an exception that is not streamcal's is an escape (with its
    place), a MemoryError is over budget, a refusal is fine; leftovers are what a failed run
    left behind."""
    outcome, escape = fuzz._attempt("raw", lambda: {}["missing"])
    assert outcome == "escaped" and escape.startswith("raw: KeyError at test_fuzz.py:")
    assert fuzz._attempt("raw", lambda: (_ for _ in ()).throw(MemoryError()))[0] == "over_budget"
    assert fuzz._attempt("raw", lambda: (_ for _ in ()).throw(BadInputError("f", "x", "y"))) == ("bad", None)
    (tmp_path / "x_rate.fits").write_bytes(b"")
    (tmp_path / ".x_rate.fits.abc.part").write_bytes(b"")
    assert fuzz._leftovers(tmp_path, (("detector1", "bad"),)) == (".x_rate.fits.abc.part", "x_rate.fits")
    assert fuzz._leftovers(tmp_path, (("detector1", "ok"),)) == (".x_rate.fits.abc.part",)
    hung = fuzz.CaseResult(case=1, kind="k", detail="", name="n", hung=True)
    ok = fuzz.CaseResult(case=2, kind="k", detail="", name="n", outcomes=(("raw", "bad"), ("header", "ok")))
    assert not hung.clean and ok.clean
    summary = fuzz.FuzzSummary.of([hung, ok])
    assert (summary.cases, summary.hung, summary.by_kind) == (2, 1, {"k": (2, 1)})


def test_mutations_are_deterministic_and_change_the_file(seeds):
    """Case N of a seed is always the same file; every kind makes something other than the seed."""
    for kind in mutate.KINDS:
        a = mutate.make_case(seeds, 5, 3, kind)
        b = mutate.make_case(seeds, 5, 3, kind)
        assert (a.data, a.name, a.detail) == (b.data, b.name, b.detail), kind
        assert a.data not in {s.data for s in seeds} or a.name not in {s.name for s in seeds}, kind


def test_card_edits_stay_in_their_header(seeds):
    """set_card writes one 80-byte card over the keyword (or where END was) and nothing else."""
    seed = seeds[0]
    data = bytearray(seed.data)
    assert mutate.set_card(data, seed.headers[0], "NGROUPS", b"1E999")
    changed = np.flatnonzero(np.frombuffer(bytes(data), np.uint8) != np.frombuffer(seed.data, np.uint8))
    assert changed.size and changed.max() - changed.min() < 80
    assert seed.headers[0][0] <= changed.min() < seed.headers[0][1]


@pytest.mark.parametrize("con", [np.zeros((2, 3, 4, 5), np.int32), np.zeros((1, 9, 9), np.int32),
                                 np.zeros((1, 3, 4), np.float32)])
def test_a_mosaic_with_a_hostile_context_image_is_refused(tmp_path, con):
    """read_mosaic checks CON from its header (rank, frame, integer type) before reading it."""
    from astropy.io import fits

    from streamcal.fitsio import read_mosaic

    path = tmp_path / "m_i2d.fits"
    sci = fits.ImageHDU(np.zeros((3, 4), np.float32), name="SCI")
    fits.HDUList([fits.PrimaryHDU(), sci, fits.ImageHDU(con, name="CON")]).writeto(path)
    with pytest.raises(BadInputError, match="CON") as exc:
        read_mosaic(path)
    assert exc.value.check == "shape"
