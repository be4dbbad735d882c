"""Sinks: where products go (FITS under the products directory, event log, Parquet tables).
Built by issue 3; stage-1 products are written by :mod:`streamcal.fitsio` with atomic renames."""
