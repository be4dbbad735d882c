"""What every step shares: parameter handling and the report a step returns."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class StepParams:
    """Parameters common to every step.

    Attributes
    ----------
    skip : bool
        Do not run the step (jwst ``--steps.<name>.skip``).
    """

    skip: bool = False


@dataclass(frozen=True)
class StepReport:
    """Outcome of one step.

    Attributes
    ----------
    status : str
        ``"COMPLETE"`` or ``"SKIPPED"`` (the value of the jwst ``S_*`` keyword).
    note : str
        Why the step was skipped, or anything a reader of the product should know.
    keywords : mapping
        Header keywords the step sets on the product (e.g. PRIMECRS from jump).
    """

    status: str = "COMPLETE"
    note: str = ""
    keywords: Mapping[str, Any] = field(default_factory=dict)


def skipped(note: str) -> StepReport:
    """A SKIPPED report with its reason."""
    return StepReport(status="SKIPPED", note=note)


def _coerce(text: str, annotation: Any, name: str) -> Any:
    hint = annotation
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if text.strip().lower() in ("none", "null", ""):
            return None
        hint = args[0]
    if hint is bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected a boolean, got {text!r}")
    try:
        return hint(text) if hint in (int, float, str) else text
    except ValueError:
        raise ValueError(f"{name}: expected {hint.__name__}, got {text!r}") from None


def make_params(params_cls: type[StepParams], step: str, values: Mapping[str, Any]) -> StepParams:
    """Build a step's ``Params`` from user values, converting strings by the field types.

    Parameters
    ----------
    params_cls : type
        The step's ``Params`` dataclass.
    step : str
        Step name, used in error messages.
    values : mapping
        ``{parameter: value}``; string values (from the command line) are converted.

    Raises
    ------
    ValueError
        Unknown parameter name or a value of the wrong type.

    Examples
    --------
    >>> make_params(StepParams, "dq_init", {"skip": "true"})
    StepParams(skip=True)
    """
    hints = typing.get_type_hints(params_cls)
    known = {f.name for f in dataclasses.fields(params_cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ValueError(f"step {step!r} has no parameter {key!r}; known: {', '.join(sorted(known))}")
        kwargs[key] = _coerce(value, hints[key], f"{step}.{key}") if isinstance(value, str) else value
    return params_cls(**kwargs)


def params_dict(params: StepParams) -> dict[str, Any]:
    """Parameters as a plain dict, for provenance."""
    return dataclasses.asdict(params)
