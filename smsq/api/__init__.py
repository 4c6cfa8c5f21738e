"""``smsq api``: the HTTP API, REST under ``/v1`` (OpenAPI at ``/v1/openapi.json``).

FastAPI's own project layout: ``app`` builds the application, one router per resource
(``campaigns``, ``recipients``, ``suppressions``, ``messages``) with its pydantic request and
response schemas beside it (``*_schemas``), authentication as a dependency (``auth``), the
domain's errors as JSON (``errors``), what every call may depend on (``deps``), and the
process that serves it (``server``). The HTTP layer translates to the Python API
(``campaigns``) and holds no logic of its own. The dashboard (``smsq.dashboard``) shares
the application, under ``/``.
"""

from __future__ import annotations

from smsq.api.app import create_app
from smsq.api.deps import ApiConfig

__all__ = ["ApiConfig", "create_app"]
