"""The base of every request body: unknown fields refused, and text that is Unicode.

JSON may spell a lone surrogate (``"\\ud800"``), which is no character: stored, it fails
the database's UTF-8 encoder (a 500) or, inside a placeholder value, the gateway request
later. Every string of a body, recipients included, is checked here and refused with the
field (and row) it is in.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

# The only code points UTF-8 cannot encode. (campaigns.recipients_input checks CSV cells for
# the same thing by encoding them; the two could share a public helper later.)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: str) -> bool:
    return value.isascii() or _SURROGATE.search(value) is None


def _holds_non_text(value: Any) -> bool:
    if isinstance(value, str):
        return not _is_text(value)
    if isinstance(value, dict):
        return any(_holds_non_text(k) or _holds_non_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_non_text(v) for v in value)
    return False


class Body(BaseModel):
    """A request body: extra fields are refused, and every string must be Unicode text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list) and info.field_name in ("recipients", "numbers"):
            for row, item in enumerate(value, start=1):
                if _holds_non_text(item):
                    raise ValueError(f"row {row}: not Unicode text (a lone surrogate)")
        elif _holds_non_text(value):
            raise ValueError("not Unicode text (a lone surrogate)")
        return value
