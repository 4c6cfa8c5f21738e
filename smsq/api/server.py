"""The process behind ``smsq api``: uvicorn serving ``app.production_app``.

Uvicorn's access log is off (it prints query strings); ``access_log.AccessLog`` writes one
line per request instead, through the ``smsq`` logger configured here beside uvicorn's own.
"""

from __future__ import annotations

import copy
import os
import secrets
from typing import Any

APP = "smsq.api.app:production_app"


def log_config(level: str = "INFO") -> dict[str, Any]:
    """Uvicorn's logging configuration with smsq's loggers on its default handler."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["smsq"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the API until SIGINT or SIGTERM; ``workers`` processes share the port.

    Without ``$SMSQ_SESSION_SECRET``, one is made here for this run, in the environment the
    worker processes inherit, so that a dashboard session is valid in all of them.
    """
    import uvicorn

    if not os.environ.get("SMSQ_SESSION_SECRET"):
        os.environ["SMSQ_SESSION_SECRET"] = secrets.token_urlsafe(32)

    uvicorn.run(
        APP, factory=True, host=host, port=port, workers=workers, access_log=False,
        log_config=log_config(), server_header=False,
    )  # fmt: skip
