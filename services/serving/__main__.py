"""`python -m serving`: the server, configured from the environment.

SERVING_RELOAD=1 (dev): the fork-server reloader (reloader.py) keeps torch, mlflow and the model warm
and serves each code change from a fresh worker; SERVING_RELOADER=uvicorn selects `uvicorn --reload`
instead (the slow baseline it is benchmarked against). Otherwise one uvicorn process: the container
is one server (one model copy, one alias decision, one metrics registry, one /model), and capacity
grows with the task count (bench/RESULTS.md: serving process model). SERVING_WORKERS > 1 is still
accepted for experiments, with a warning: each worker then swaps, counts and answers /model alone.
The graceful-shutdown timeout stays below Compose's stop_grace_period (10 s by default) so in-flight
requests finish before Docker's SIGKILL.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path


def main() -> None:
    # The alias watcher is the retry loop (every poll interval, with backoff for broken versions); the
    # MLflow client's own retries (7, exponential) would block a poll, or a cold start, for minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from contract import credentials

    from serving.settings import Settings, SettingsError

    try:
        credentials.apply()  # the account's password from its secret, before MLflow is called
        Settings.from_env()  # a bad setting is one line and exit 2 here, not a traceback from the import
    except (SettingsError, ValueError, credentials.CredentialsError) as error:
        logging.getLogger("serving").error("%s", error)
        raise SystemExit(2) from None
    reload = os.environ.get("SERVING_RELOAD") == "1"
    if reload and os.environ.get("SERVING_RELOADER", "fork") == "fork":
        from serving import reloader

        reloader.main()
        return
    import uvicorn

    workers = int(os.environ.get("SERVING_WORKERS", "1"))
    if workers > 1 and not reload:
        logging.getLogger("serving").warning(
            "SERVING_WORKERS=%d: each worker polls the alias, swaps, counts /metrics and answers /model on its "
            "own, so the container no longer behaves as one server; scale the task count instead",
            workers,
        )
    uvicorn.run(
        "serving.app:app",
        host=os.environ.get("SERVING_HOST", "0.0.0.0"),
        port=int(os.environ.get("SERVING_PORT", "8080")),
        reload=reload,
        reload_dirs=[str(Path(__file__).parent)] if reload else None,
        workers=None if reload else workers,
        timeout_graceful_shutdown=int(os.environ.get("SERVING_GRACEFUL_TIMEOUT", "8")),
    )


if __name__ == "__main__":
    main()
