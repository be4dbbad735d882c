"""Ray actors: the imperative shell around the calibration core (ingest, router, stage pools,
association buffer, ledger owner).  The only place streamcal imports Ray.  Built by issue 3;
until then stage 1 runs in one process through :func:`streamcal.pipelines.calibrate_file`."""
