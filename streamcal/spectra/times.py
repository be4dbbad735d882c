"""Integration times of TSO spectra from a product's INT_TIMES table."""

from __future__ import annotations

import numpy as np

__all__ = ["integration_times"]

_COLUMNS = {"mjd_beg": "int_start_MJD_UTC", "mjd_avg": "int_mid_MJD_UTC", "mjd_end": "int_end_MJD_UTC",
            "tdb_beg": "int_start_BJD_TDB", "tdb_mid": "int_mid_BJD_TDB", "tdb_end": "int_end_BJD_TDB"}


def integration_times(int_times: np.ndarray | None, n_int: int,
                      integration_start: int = 1) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """INT_NUM (1-based) and the MJD UTC / BJD TDB start, mid and end of each of the ``n_int``
    integrations of a segment whose first integration is ``integration_start`` (INTSTART).

    As jwst's extract_1d: the table row of the segment's first integration is found from the
    table's first ``integration_number``; when the table is absent or does not cover every
    integration, the times are NaN and INT_NUM counts from INTSTART.

    Returns
    -------
    int_num : ndarray of int32, (n_int,)
    times : dict
        ``mjd_beg``, ``mjd_avg``, ``mjd_end``, ``tdb_beg``, ``tdb_mid``, ``tdb_end`` (days).
    """
    default = np.arange(integration_start, integration_start + n_int, dtype=np.int32)
    nan = {key: np.full(n_int, np.nan) for key in _COLUMNS}
    if int_times is None or len(int_times) == 0:
        return default, nan
    numbers = np.asarray(int_times["integration_number"])
    offset = (integration_start - 1) - (int(numbers[0]) - 1)
    if offset < 0 or offset + n_int > len(int_times):
        return default, nan
    rows = slice(offset, offset + n_int)
    times = {key: np.asarray(int_times[column][rows], dtype=float) for key, column in _COLUMNS.items()}
    return numbers[rows].astype(np.int32), times
