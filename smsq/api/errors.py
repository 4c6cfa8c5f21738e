"""Errors as JSON: the domain's class name and message, with the HTTP status that fits.

Every error body is ``{"error": CLASS, "message": TEXT, "field": ..., "row": ...}``. A
``CampaignError`` keeps the class name and message the Python API raises; ``field`` and
``row`` repeat what the message names (the domain writes them as ``field: ...`` and
``row N: ...``, campaigns.errors), or for a request the schema refused, where it is in the
request. No error answers with a stack trace; an unexpected one is logged and answered 500.
Outside ``/v1`` (the dashboard's pages) the same errors are answered as pages, by the
``error_page`` the dashboard leaves on ``app.state``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from campaigns.api_keys import ApiKeyNotFound
from campaigns.errors import CampaignError, CampaignNotFound, InvalidState

log = logging.getLogger(__name__)

# The status of each domain error (the nearest class in its MRO); any other CampaignError
# is a request the domain refused as given: 422.
STATUS_OF: dict[type[CampaignError], int] = {
    CampaignNotFound: status.HTTP_404_NOT_FOUND,
    ApiKeyNotFound: status.HTTP_404_NOT_FOUND,
    InvalidState: status.HTTP_409_CONFLICT,
    CampaignError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}
_ROW = re.compile(r"^(?:[^:\s]+: )?row (\d+): ")
_FIELD = re.compile(r"^([a-z_]+): ")
_HTTP_NAMES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound",
               405: "MethodNotAllowed", 413: "ContentTooLarge"}  # fmt: skip


class ErrorOut(BaseModel):
    """An error: the class name (the Python API's own for domain errors) and its message."""

    error: str
    message: str
    field: str | None = None
    row: int | None = None


# The error answers every route documents (FastAPI's `responses=`).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 422)
}


def status_of(exc: CampaignError) -> int:
    """The HTTP status of a domain error."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return status.HTTP_422_UNPROCESSABLE_CONTENT


def _body(error: str, message: str, field: str | None = None, row: int | None = None) -> Any:
    return ErrorOut(error=error, message=message, field=field, row=row).model_dump()


def _page(request: Request, status_code: int, message: str) -> Response | None:
    """The error as a dashboard page, for a request outside /v1 when the app has pages."""
    render = getattr(request.app.state, "error_page", None)
    if render is None or request.url.path.split("/")[1] == "v1":
        return None
    page: Response = render(request, status_code, message)
    return page


def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CampaignError)
    message = str(exc)
    row = _ROW.match(message)
    field = _FIELD.match(message)
    body = _body(type(exc).__name__, message, field and field.group(1),
                 int(row.group(1)) if row else None)  # fmt: skip
    return JSONResponse(body, status_code=status_of(exc))


def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    said = f"{'.'.join(where)}: {first.get('msg', 'invalid')}"
    if page := _page(request, 400, f"This link is not one the dashboard makes ({said})."):
        return page
    if first.get("type") == "json_invalid":
        message = f"the body is not JSON: {first.get('ctx', {}).get('error', 'invalid')}"
        return JSONResponse(_body("BadRequest", message), status_code=400)
    field = ".".join(where) or None
    said = str(first.get("msg", "invalid")).removeprefix("Value error, ")  # our validators'
    in_row = _ROW.match(said)
    row = _recipients_row(where) or (int(in_row.group(1)) if in_row else None)
    message = f"{field}: {said}" if field else said
    return JSONResponse(_body("ValidationError", message, field, row), status_code=422)


def _recipients_row(where: list[str]) -> int | None:
    """The 1-based row of a recipients item the schema refused (the domain's numbering)."""
    if len(where) >= 2 and where[0] == "recipients" and where[1].isdigit():
        return int(where[1]) + 1
    return None


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if (page := _page(request, exc.status_code, str(exc.detail))) is not None:
        return page
    if exc.status_code in (404, 405) and request.url.path.startswith("/v1/"):
        # No route matched, so no dependency ran: without a good key, an unknown path or
        # method under /v1 is refused like any other call (it says nothing about routes).
        exc = await _refusal(request) or exc
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (methods := _methods(request)):
        headers["Allow"] = ", ".join(methods)  # every method of the path, not the first route's
    name = _HTTP_NAMES.get(exc.status_code, "HTTPError")
    return JSONResponse(_body(name, str(exc.detail)), status_code=exc.status_code, headers=headers)


async def _refusal(request: Request) -> HTTPException | None:
    from smsq.api.auth import bearer, require_key
    from smsq.api.deps import get_config

    try:
        await require_key(await bearer(request), await get_config(request))
    except HTTPException as refused:
        return refused
    return None


def _methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the request's path (a literal path such as
    /v1/campaigns/csv before a template it also fits, as the router matches them)."""
    matches: dict[int, set[str]] = {}
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), request.url.path):
            matches.setdefault(template.count("{"), set()).update(m.upper() for m in operations)
    return sorted(matches[min(matches)]) if matches else []


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    if (page := _page(request, 500, "The server failed; its log says why.")) is not None:
        return page
    body = _body("InternalError", "the server failed; its log says why")
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as an ErrorOut."""
    app.add_exception_handler(CampaignError, _domain)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
