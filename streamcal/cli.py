"""Command line: ``streamcal calibrate | step | simulate | demo | run | status | associations``.

Exit codes: 0 success; 2 bad input or bad usage (one line on stderr naming the file and the
problem); 1 any other failure (also one line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import BadInputError, StreamcalError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _step_values(pairs: Sequence[tuple[str, str]]) -> dict[str, dict[str, str]]:
    values: dict[str, dict[str, str]] = {}
    for key, value in pairs:
        if "." not in key:
            raise ValueError(f"--set expects STEP.PARAM=VALUE, got {key}={value}")
        step, param = key.split(".", 1)
        values.setdefault(step, {})[param] = value
    return values


def _add_calibrate(sub) -> None:
    p = sub.add_parser("calibrate", help="calibrate files in this process: raw exposures (stage 1), "
                                         "_rate files or level-2 ASNs (image2), image3 ASNs")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="_uncal.fits, _rate(ints).fits or *_asn.json files")
    p.add_argument("--out", required=True, help="directory for the products")
    p.add_argument("--pipeline", help="force a pipeline (default: route by EXP_TYPE)")
    p.add_argument("--skip", action="append", default=[], metavar="STEP", help="skip a step (repeatable)")
    p.add_argument("--set", dest="sets", action="append", default=[], type=_key_value,
                   metavar="STEP.PARAM=VALUE", help="set a step parameter (repeatable)")
    p.add_argument("--override", action="append", default=[], type=_key_value, metavar="REFTYPE=PATH",
                   help="use this reference file for a reference type (repeatable)")
    p.add_argument("--refs", help="directory of JWST reference files (default: the synthetic set)")
    p.add_argument("--save-calibrated-ramp", action="store_true", help="also write the _ramp product")


def _add_step(sub) -> None:
    p = sub.add_parser("step", help="run one calibration step on one file (as jwst's strun): "
                                    "<root>_<step>.fits")
    p.add_argument("step", metavar="STEP", help="jwst step name (dq_init, jump, flat_field, ...)")
    p.add_argument("input", metavar="INPUT", help="a raw exposure (ramp steps) or a _rate/_cal file")
    p.add_argument("--out", required=True, help="directory for the output")
    p.add_argument("--set", dest="sets", action="append", default=[], type=_key_value,
                   metavar="PARAM=VALUE", help="set a parameter of the step (repeatable)")
    p.add_argument("--override", action="append", default=[], type=_key_value, metavar="REFTYPE=PATH",
                   help="use this reference file for a reference type (repeatable)")
    p.add_argument("--refs", help="directory of JWST reference files (default: the synthetic set)")


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="write simulated raw exposures into a directory")
    p.add_argument("out", help="directory to write _uncal.fits files (and truth) into")
    p.add_argument("--detector", default="NRCA1")
    p.add_argument("--exp-type", default=None, help="default: the detector's imaging mode")
    p.add_argument("--subarray", default=None, help="named subarray (default: full frame; FGS: a guide window)")
    p.add_argument("--readpatt", default=None)
    p.add_argument("--ngroups", type=int, default=10)
    p.add_argument("--nints", type=int, default=1)
    p.add_argument("--exposures", type=int, default=1, help="number of exposures (a dither sequence)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--program", action="store_true", help="simulate the demo's small observing program instead")


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="simulate a small observing program and calibrate it")
    p.add_argument("--out", default=None, help="work directory (default: a new temporary one)")
    p.add_argument("--seed", type=int, default=0)


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run the streaming service on a landing directory (Ctrl-C stops)")
    p.add_argument("landing", help="directory raw exposures land in")
    p.add_argument("--products", required=True, help="products, ledger, event log, quarantine")
    p.add_argument("--config", help="TOML configuration (see streamcal/config.py)")
    p.add_argument("--address", help="Ray cluster to join (default: config, else start a local one)")


def _add_status(sub) -> None:
    p = sub.add_parser("status", help="what the service has done: per stage, oldest waiting, recent products")
    p.add_argument("--products", default=".", help="products directory (holds ledger.sqlite)")
    p.add_argument("--json", action="store_true", help="print JSON")


def _add_associations(sub) -> None:
    p = sub.add_parser("associations", help="build ASN files from an association pool (like asn_generate)")
    p.add_argument("pool", help="association pool file ('|'-separated, as in operations)")
    p.add_argument("--out", required=True, help="directory for the *_asn.json files")
    p.add_argument("--rules", choices=["level2b", "level3"], default=None,
                   help="only this level's rules (default: both)")
    merge = p.add_mutually_exclusive_group()
    merge.add_argument("--merge", action="store_true",
                       help="merge level-2 associations per candidate into multi-product ones")
    merge.add_argument("--no-merge", dest="merge", action="store_false",
                       help="do not merge (the default, as in jwst 3.0)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamcal", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"streamcal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_calibrate(sub)
    _add_step(sub)
    _add_simulate(sub)
    _add_demo(sub)
    _add_run(sub)
    _add_status(sub)
    _add_associations(sub)
    return parser


def _say(message: str) -> None:
    print(f"streamcal: {message}", file=sys.stderr)


def cmd_calibrate(args) -> int:
    from .pipelines import CalibrationOptions, calibrate_file
    from .refs import ReferenceSet

    try:
        options = CalibrationOptions(pipeline=args.pipeline, skip=frozenset(args.skip),
                                     step_values=_step_values(args.sets),
                                     save_calibrated_ramp=args.save_calibrated_ramp)
        refs = ReferenceSet(args.refs, overrides=dict(args.override))
    except (ValueError, StreamcalError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    status = EXIT_OK
    for path in args.inputs:
        try:
            for product in calibrate_file(path, args.out, refs, options):
                print(product)
        except BadInputError as exc:
            _say(f"error: {exc}")
            status = max(status, EXIT_BAD_INPUT)
        except ValueError as exc:  # a --set/--skip that does not fit this file's pipeline
            _say(f"error: {path}: {exc}")
            status = max(status, EXIT_BAD_INPUT)
        except Exception as exc:  # one line, and go on with the next file
            _say(f"error: {path}: {type(exc).__name__}: {exc}")
            status = EXIT_FAILED if status == EXIT_OK else status
    return status


def cmd_step(args) -> int:
    from .pipelines.single_step import run_single_step
    from .refs import ReferenceSet

    try:
        refs = ReferenceSet(args.refs, overrides=dict(args.override))
    except (ValueError, StreamcalError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    try:
        products = run_single_step(args.step, args.input, args.out, refs, dict(args.sets))
    except ValueError as exc:  # bad input, an unknown step or parameter
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:
        _say(f"error: {args.input}: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    for product in products:
        print(product)
    return EXIT_OK


def cmd_simulate(args) -> int:
    from . import sim

    try:
        return _simulate(sim, args)
    except (ValueError, KeyError) as exc:  # an impossible configuration (unknown detector, subarray ...)
        _say(f"error: {exc.args[0] if isinstance(exc, KeyError) else exc}")
        return EXIT_BAD_INPUT


_IMAGING = {"NIRCAM": "NRC_IMAGE", "NIRISS": "NIS_IMAGE", "NIRSPEC": "NRS_IMAGE", "MIRI": "MIR_IMAGE",
            "FGS": "FGS_IMAGE"}


def _simulate(sim, args) -> int:
    from .detectors import get_detector

    exp_type = args.exp_type or _IMAGING[get_detector(args.detector).instrument]
    if args.program:
        paths = sim.simulate_program(args.out, seed=args.seed)
    else:
        paths = sim.simulate_to_directory(args.out, detector=args.detector, exp_type=exp_type,
                                          subarray=args.subarray, readpatt=args.readpatt,
                                          ngroups=args.ngroups, nints=args.nints,
                                          n_exposures=args.exposures, seed=args.seed)
    for path in paths:
        print(path)
    return EXIT_OK


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(args.out, seed=args.seed)


def cmd_run(args) -> int:
    from .config import load_config

    try:
        config = load_config(args.config).with_dirs(args.landing, args.products, args.address)
    except (OSError, ValueError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    from .actors.service import run_forever

    return run_forever(config)


def cmd_status(args) -> int:
    from .service import format_status, read_status

    try:
        summary = read_status(args.products)
    except FileNotFoundError as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    if args.json:
        import json

        print(json.dumps(summary, indent=2, default=str))
    else:
        print(format_status(summary))
    return EXIT_OK


def cmd_associations(args) -> int:
    from .associations import AsnError, associations_from_pool, write_asn

    try:
        made = associations_from_pool(args.pool, rules=args.rules, merge=args.merge)
    except (OSError, ValueError, AsnError) as err:
        _say(f"{args.pool}: cannot build associations: {err}")
        return EXIT_BAD_INPUT
    out = Path(args.out)
    for name, data in made:
        write_asn(data, out / name)
        for product in data["products"]:
            print(f"{name}  {data['asn_type']:<11} {product['name']}  "
                  f"{len(product['members'])} members")
    _say(f"{len(made)} association(s) written to {out}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"calibrate": cmd_calibrate, "step": cmd_step, "simulate": cmd_simulate, "demo": cmd_demo,
               "run": cmd_run, "status": cmd_status,
               "associations": cmd_associations}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
