"""Keeping credentials out of logs: URL redaction and a logging filter for httpx's request log."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

# Query parameters that carry secrets on the GET gateways (AamarSMS user/password,
# SMSPresto user=api_key/pass, AakashSMS auth_token on v3 GET). "user" is redacted too:
# on SMSPresto it is the API key.
SECRET_QUERY_PARAMS = frozenset({"auth_token", "token", "user", "password", "pass", "api_key"})
MASK = "***"

_URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def redact_url(url: str | httpx.URL) -> str:
    """Return ``url`` with its secrets replaced by ``***``: the password of its user part
    (database and broker URLs) and the value of every secret query parameter (GET gateways).
    """
    parts = urlsplit(str(url))
    if parts.password:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        parts = parts._replace(netloc=f"{user}:{MASK}@{host}")
    if not parts.query:
        return urlunsplit(parts) if parts.password else str(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    masked = [(k, MASK if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(masked, safe="*,")))


def redact_text(text: str) -> str:
    """Redact every URL found in free text (log messages, exception strings)."""
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Rewrites log records so that URLs in them carry no secret query values."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


# httpx logs every request at INFO as ``HTTP Request: GET <full url>``: on a GET gateway the
# URL carries every number and the text (and, unredacted, the credentials). What is left of
# it at WARNING and above carries no URL of a request.
QUIET_LOGGERS = ("httpx", "httpcore")


def install_log_redaction(*logger_names: str) -> None:
    """Keep numbers, texts and credentials out of logs: httpx's and httpcore's loggers are
    raised to WARNING, and they (and any named here) get the redacting filter, which masks
    the secrets of every URL a record still holds (DESIGN.md invariant 11)."""
    for name in (*QUIET_LOGGERS, *logger_names):
        logger = logging.getLogger(name)
        # The logger's own level, not its effective one: Celery lowers the root logger to
        # INFO after this runs at worker start, and an unset level would follow it down.
        if name in QUIET_LOGGERS and logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
