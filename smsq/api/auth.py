"""Authentication as a dependency: ``Authorization: Bearer KEY`` with a key that is not revoked.

Every ``/v1`` route depends on ``require_key``. The key is checked against the database at
every call (``campaigns.api_keys.verify_key``: a unique-index lookup of its SHA-256), so a
revoked key is refused at the next call. A refusal is a 401 that never repeats the key.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from campaigns.api_keys import ApiKeyInfo, verify_key
from smsq.api.deps import Config

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made by `smsq api-key create NAME`, as `Authorization: Bearer KEY`.",
)


def _refuse(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


async def require_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    config: Config,
) -> ApiKeyInfo:
    """The caller's key; 401 when there is none, or it is unknown or revoked.

    Async, with only the read in a worker thread: a sync dependency of an async route would
    take a thread for each of its own dependencies too (bench.api, api_status_p99_ms).
    """
    if credentials is None:
        raise _refuse("give an API key as 'Authorization: Bearer KEY' (smsq api-key create)")
    key = await run_in_threadpool(
        verify_key, credentials.credentials, database_url=config.database_url
    )
    if key is None:
        raise _refuse("the API key is unknown or revoked")
    return key


ApiKey = Annotated[ApiKeyInfo, Depends(require_key)]
