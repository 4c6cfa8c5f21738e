"""Checking a ``callback_url`` before anything is stored."""

from __future__ import annotations

from urllib.parse import urlsplit

from campaigns.errors import InputError

URL_MAX_CHARS = 2000


def check_callback_url(url: object, field: str = "callback_url") -> str | None:
    """``url`` if it is an absolute http(s) URL with a host, else InputError naming ``field``.

    None stays None (no callbacks). Credentials in the URL (``user:pass@``) are refused:
    they would be stored and shown in plain text; put a token in the path or query instead.
    """
    if url is None:
        return None
    if not isinstance(url, str):
        raise InputError(f"{field}: expected a URL string, got {type(url).__name__}")
    text = url.strip()
    if not text:
        raise InputError(f"{field}: empty; give an http:// or https:// URL, or leave it out")
    if len(text) > URL_MAX_CHARS:
        raise InputError(f"{field}: longer than {URL_MAX_CHARS} characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{field}: {text!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"{field}: {text!r} must start with http:// or https://")
    if not parts.hostname:
        raise InputError(f"{field}: {text!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"{field}: no user or password in the URL (they would be stored)")
    if port == 0:
        raise InputError(f"{field}: {text!r} has port 0")
    if any(c.isspace() for c in text):
        raise InputError(f"{field}: {text!r} contains whitespace")
    return text
