"""Generated requests against the OpenAPI document (schemathesis): whatever a client sends
that the document allows, or nearly allows, the API never fails (no 500) and answers in the
shapes the document promises.

The campaigns are planned into one SQLite file for the module, through accounts pointing
nowhere (nothing is sent); each operation gets a bounded number of examples.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from campaigns.api_keys import create_key
from campaigns.db import dispose_engines
from campaigns.schema import upgrade
from smsq.api import ApiConfig, create_app
from tests.cli.helpers import NOWHERE, funded_accounts

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

EXAMPLES_PER_OPERATION = 25
_FOLDER = Path(tempfile.mkdtemp(prefix="smsq-fuzz-"))
_DATABASE = f"sqlite:///{_FOLDER / 'fuzz.db'}"
upgrade(_DATABASE)
APP = create_app(ApiConfig(database_url=_DATABASE, accounts=funded_accounts(NOWHERE)))
HEADERS = {"Authorization": f"Bearer {create_key('fuzz', database_url=_DATABASE).key}"}
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", APP, headers=HEADERS)
dispose_engines()


@schema.auth()
class _Key:
    """Every generated call carries the key (the auth tests check the calls without one)."""

    def get(self, case: schemathesis.Case, context: object) -> str:
        return HEADERS["Authorization"]

    def set(self, case: schemathesis.Case, data: str, context: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture(scope="module", autouse=True)
def _one_campaign() -> None:
    """Campaign 1 exists, so that reads and steering reach the domain, not only 404s."""
    from campaigns import api

    api.submit_campaign("aakashsms_v3", ["9841000001", "12"], text="hi", database_url=_DATABASE,
                        accounts=funded_accounts(NOWHERE))  # fmt: skip


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_no_request_makes_the_api_fail(case: schemathesis.Case) -> None:
    # A request the schema allows may still be refused by the domain (a 422 naming why: an
    # unknown account, both account and route): not a failure here.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
