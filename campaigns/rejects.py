"""The rejects file: every row of a list that will not be sent, with its reason, as a CSV.

Written as planning goes, one chunk at a time (nothing is kept in memory), to a temporary file
beside the target that replaces it once the whole list was read: a list that fails half-way
(an unreadable row, a strict campaign's missing value) leaves no half-written file, while a
list in which nothing is sendable still gets its file, which is when it is most wanted.

Columns: ``row`` (1-based, the header not counted, as in every error message), ``number`` (as
the list gave it for an invalid row, else as its gateway takes it), ``state`` (invalid,
duplicate, suppressed or rejected) and ``reason``.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from campaigns.errors import InputError

HEADER = ("row", "number", "state", "reason")


class RejectsFile:
    """A rejects CSV being written; ``commit`` puts it in place, ``discard`` drops it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Start writing beside ``path``; InputError when its folder cannot take a file."""
        self.path = Path(path)
        self.rows = 0
        try:
            fd, temp = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent or "."
            )
        except OSError as exc:
            raise InputError(f"rejects: cannot write {str(self.path)!r}: {exc.strerror}") from None
        self._temp = Path(temp)
        self._file: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(HEADER)

    def write(self, settled: Iterable[tuple[int, str, str, str, int | None]]) -> None:
        """Append one chunk's settled rows ``(row, number, state, reason, segments)``, in row
        order."""
        rows = sorted(settled)  # by row number: each row is in one chunk, once
        self._writer.writerows(row[:4] for row in rows)
        self.rows += len(rows)

    def commit(self) -> None:
        """The list was read to its end: the file takes its place at ``path``."""
        if self._file is not None:
            self._file.close()
            self._file = None
            os.replace(self._temp, self.path)

    def discard(self) -> None:
        """The list could not be read to its end: nothing is left behind."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._temp.unlink(missing_ok=True)
