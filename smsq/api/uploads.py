"""A CSV upload as a file on disk, for the Python API's CSV reader.

Starlette spools each uploaded file to a temporary file once it passes 1 MB, so an upload of
1,000,000 rows never sits in memory; it is copied here, in 1 MB blocks, to a file of its
own name in a private temporary folder (the domain's messages name the file: "customers.csv:
row 17: ..."), read lazily by ``submit_campaign``, and removed after the call.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

COPY_BLOCK_BYTES = 1 << 20
DEFAULT_NAME = "recipients.csv"
_UNSAFE = re.compile(r"[^\w.\- ]+")


def upload_name(filename: str | None) -> str:
    """The name the upload's file goes by: its base name, without path or odd characters."""
    base = Path((filename or "").replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip(" .")[:100]
    return cleaned or DEFAULT_NAME


@contextmanager
def spooled_csv(upload: UploadFile) -> Iterator[Path]:
    """The uploaded CSV as a path, for the duration of the ``with``."""
    with tempfile.TemporaryDirectory(prefix="smsq-upload-") as folder:
        path = Path(folder) / upload_name(upload.filename)
        upload.file.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out, COPY_BLOCK_BYTES)
        upload.file.close()
        yield path
