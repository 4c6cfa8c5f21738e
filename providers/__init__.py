"""Gateway adapters for smsq: pure request builders and response parsers, and their vocabulary.

Adapters do no I/O; the worker sends what they build and acts on the outcome they parse.
"""

from providers._accounts import Account, AccountsSettings, ProviderName, config_path, load_accounts
from providers._adapter import (
    Adapter,
    CodeTable,
    all_results,
    credential,
    decode_json,
    outcome_for_code,
    single_text,
)
from providers._capabilities import (
    ArchiveEntry,
    ArchivePageParser,
    ArchivePageRequest,
    ArchiveQuery,
    BalanceQuery,
    StatusQuery,
)
from providers._errors import (
    ErrorKind,
    GatewayError,
    classify_status,
    classify_transport_error,
    error_for_unreadable,
)
from providers._redact import RedactingFilter, install_log_redaction, redact_text, redact_url
from providers._vocabulary import (
    PLACEHOLDER_RE,
    Batch,
    Limits,
    NumberFormat,
    NumberResult,
    ResultState,
)

__all__ = [
    "PLACEHOLDER_RE",
    "Account",
    "AccountsSettings",
    "Adapter",
    "ArchiveEntry",
    "ArchivePageParser",
    "ArchivePageRequest",
    "ArchiveQuery",
    "BalanceQuery",
    "Batch",
    "CodeTable",
    "ErrorKind",
    "GatewayError",
    "Limits",
    "NumberFormat",
    "NumberResult",
    "ProviderName",
    "RedactingFilter",
    "ResultState",
    "StatusQuery",
    "all_results",
    "classify_status",
    "classify_transport_error",
    "config_path",
    "credential",
    "decode_json",
    "error_for_unreadable",
    "install_log_redaction",
    "load_accounts",
    "outcome_for_code",
    "redact_text",
    "redact_url",
    "single_text",
]
