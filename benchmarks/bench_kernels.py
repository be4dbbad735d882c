"""Benchmark: streamcal jump + ramp_fit against stcal's, on the same simulated ramp, one core.

    python benchmarks/bench_kernels.py [--size 2048] [--ngroups 10] [--nints 1] [--repeat 3]

The ramp comes from :mod:`streamcal.sim.ramps` (cosmic rays, a few percent of pixels bright
enough to saturate), in DN through a gain of 2 e-/DN.  Each implementation runs in its own
subprocess so that its peak memory (VmHWM) is its own: the script prints the best of
``--repeat`` wall-clock times and CPU (thread) times -- the CPU time is what to compare on a
busy machine --, the speed ratio, the peak RSS and the working memory (peak minus the RSS once
the inputs are loaded), and how many times slower each is than one memory-bandwidth pass over
the ramp (a numpy copy of the float32 data: the physical floor of any ramp step).
JIT compilation is excluded (the worker warms up on a tiny ramp first; numba caches it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _measure import peak_rss_mb  # noqa: E402

GAIN = 2.0          # e-/DN
READ_NOISE_E = 12.0  # single-frame read noise, e-
FULL_WELL_E = 80000.0
TFRAME = 10.737     # s, NIRCam full frame


def make_inputs(size: int, ngroups: int, nints: int, out: Path, seed: int = 1) -> dict:
    """Simulate the ramp and write data/groupdq/pixeldq/gain/readnoise .npy files."""
    from streamcal.sim.ramps import simulate_ramps

    rng = np.random.default_rng(seed)
    rate = np.exp(rng.uniform(np.log(0.3), np.log(60.0), (size, size)))  # e-/s, faint sky/sources
    bright = rng.random((size, size)) < 0.02                             # 2 % bright: saturate
    rate[bright] = rng.uniform(200.0, 3000.0, int(bright.sum()))
    ramps, truth = simulate_ramps(rate, nints=nints, ngroups=ngroups, tframe=TFRAME,
                                  read_noise_e=READ_NOISE_E, cr_per_pixel_per_s=5e-5,
                                  full_well_e=FULL_WELL_E, rng=rng)
    saturated = ramps >= 0.98 * FULL_WELL_E
    ramps /= GAIN
    np.save(out / "data.npy", ramps)
    np.save(out / "groupdq.npy", np.where(saturated, np.uint8(2), np.uint8(0)))
    np.save(out / "pixeldq.npy", np.zeros((size, size), np.uint32))
    np.save(out / "gain.npy", np.full((size, size), GAIN, np.float32))
    rn_cds_dn = READ_NOISE_E * np.sqrt(2) / GAIN
    np.save(out / "readnoise.npy", np.full((size, size), rn_cds_dn, np.float32))
    return {"cosmic_rays": len(truth.cosmic_rays),
            "saturated_pixels": int(saturated.any(axis=(0, 1)).sum())}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load(folder: Path):
    names = ("data", "groupdq", "pixeldq", "gain", "readnoise")
    return [np.load(folder / f"{name}.npy") for name in names]


def _streamcal(data, gdq, pdq, gain, rn):
    from streamcal.steps.jump import flag_jumps_inplace
    from streamcal.steps.ramp_fit import fit_ramps

    flag_jumps_inplace(data, gdq, pdq, gain, rn, nframes=1)
    return fit_ramps(data, gdq, pdq, gain, rn, tframe=TFRAME, tgroup=TFRAME, nframes=1)


def _stcal(data, gdq, pdq, gain, rn):
    from stcal.jump.jump import detect_jumps_data
    from stcal.jump.jump_class import JumpData
    from stcal.ramp_fitting.ramp_fit import ramp_fit_data
    from stcal.ramp_fitting.ramp_fit_class import RampData

    flags = dict(GOOD=0, DO_NOT_USE=1, SATURATED=2, JUMP_DET=4, DROPOUT=8, PERSISTENCE=32,
                 CHARGELOSS=128, NO_GAIN_VALUE=2**19, UNRELIABLE_SLOPE=2**24, REFERENCE_PIXEL=2**31)
    jd = JumpData(gain2d=gain, rnoise2d=rn, dqflags=flags)
    jd.init_arrays_from_arrays(data, gdq, pdq)
    jd.nframes, jd.dt_group, jd.n_reads_groupdiff = 1, np.ones(1), np.ones(1) * 2
    jd.set_detection_settings(4.0, 6.0, 5.0, 1000.0, 10.0, True)
    jd.set_after_jump(0.0, 0, 0.0, 0)
    jd.expand_large_events = jd.find_showers = False
    jd.max_cores = "none"
    gdq, pdq, _, _ = detect_jumps_data(jd)
    rd = RampData()
    rd.set_arrays(data, gdq, pdq, np.zeros(pdq.shape, np.float32))
    rd.set_meta(name="NIRCAM", frame_time=TFRAME, group_time=TFRAME, groupgap=0, nframes=1,
                drop_frames1=None)
    rd.algorithm = "OLS_C"
    rd.set_dqflags(flags)
    rd.start_row, rd.num_rows = 0, pdq.shape[0]
    rd.suppress_one_group_ramps = True
    return ramp_fit_data(rd, False, rn.copy(), gain, "OLS_C", "optimal", "none")


def _copy_pass(data) -> float:
    dest = np.empty_like(data)
    np.copyto(dest, data)  # fault the pages in first
    start = time.perf_counter()
    np.copyto(dest, data)
    return time.perf_counter() - start


def worker(which: str, folder: Path, repeat: int) -> dict:
    """Run one implementation ``repeat`` times on fresh copies of the inputs; report as JSON."""
    func = {"streamcal": _streamcal, "stcal": _stcal}[which]
    inputs = _load(folder)
    tiny = [a[..., :16, :16].copy() for a in inputs]
    func(*tiny)  # compile / warm up
    times, cpu = [], []
    for _ in range(repeat):
        data, gdq, pdq, gain, rn = (a.copy() for a in inputs)
        base = _rss_mb()
        start, start_cpu = time.perf_counter(), time.thread_time()
        func(data, gdq, pdq, gain, rn)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        del data, gdq, pdq, gain, rn
    peak = peak_rss_mb()
    return {"seconds": min(times), "cpu_seconds": min(cpu), "all_seconds": times,
            "peak_mb": peak, "working_mb": peak - base, "copy_seconds": _copy_pass(inputs[0])}


def _run_worker(which: str, folder: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", which, "--folder", str(folder), "--repeat", str(repeat)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--ngroups", type=int, default=10)
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", choices=("streamcal", "stcal"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.repeat)))
        return 0
    with tempfile.TemporaryDirectory(prefix="streamcal-bench-") as tmp:
        folder = Path(tmp)
        print(f"simulating {args.nints}x{args.ngroups}x{args.size}x{args.size} ramp ...", flush=True)
        info = make_inputs(args.size, args.ngroups, args.nints, folder)
        ramp_mb = args.nints * args.ngroups * args.size**2 * 4 / 2**20
        print(f"  {info['cosmic_rays']} cosmic rays, {info['saturated_pixels']} pixels saturate; "
              f"ramp {ramp_mb:.0f} MB float32")
        results = {}
        for which in ("streamcal", "stcal"):
            print(f"running {which} (jump + ramp_fit, {args.repeat}x) ...", flush=True)
            results[which] = _run_worker(which, folder, args.repeat)
    floor = results["streamcal"]["copy_seconds"]
    print(f"\nmemory-bandwidth floor (copy of the float32 ramp): {floor:.3f} s")
    print(f"{'':10s} {'seconds':>8s} {'CPU s':>8s} {'x floor':>8s} {'peak MB':>8s} {'work MB':>8s}")
    for which, r in results.items():
        print(f"{which:10s} {r['seconds']:8.3f} {r['cpu_seconds']:8.3f} {r['seconds'] / floor:8.1f} "
              f"{r['peak_mb']:8.0f} {r['working_mb']:8.0f}")
    ratio = results["stcal"]["seconds"] / results["streamcal"]["seconds"]
    cpu_ratio = results["stcal"]["cpu_seconds"] / results["streamcal"]["cpu_seconds"]
    print(f"\nstreamcal is {ratio:.1f}x faster than stcal (jump + ramp_fit, one core; "
          f"{cpu_ratio:.1f}x in CPU time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
