"""Calibration steps: one module (or folder) per algorithm.

Each step module defines

``NAME``              jwst step name (``"saturation"``)
``STATUS_KEYWORD``    jwst cal_step header keyword (``"S_SATURA"``)
``REFTYPES``          reference-file types it needs (``("saturation",)``)
``OPTIONAL_REFTYPES`` reference types it uses when available
``Params``            frozen dataclass of its parameters (jwst names), subclass of
                      :class:`~streamcal.steps.base.StepParams`
``run(model, refs, params) -> (model, StepReport)``
                      the adapter: pulls arrays off the model, calls the pure array kernels
                      of the module, returns the (possibly new) model and a report.

and its pure array kernels, which know nothing of files, models or Ray.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def get_step(name: str) -> ModuleType:
    """The step module for a jwst step name, e.g. ``get_step("jump")``.

    Raises
    ------
    KeyError
        If streamcal has no step of that name.
    """
    if not name.isidentifier():
        raise KeyError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise KeyError(f"no step named {name!r}") from None
        raise
