"""Reading a recipient list lazily: a CSV file, or an iterable of numbers or of dicts.

Every source yields ``(row_no, raw_number, values)`` where ``row_no`` is the 1-based position
in the list (the CSV header not counted; blank CSV lines count but are skipped) and
``values`` are the row's placeholder values aligned with the text's placeholder names (None
where the row has none). Nothing is read whole: a million-line CSV streams row by row.

The number is the column ``msisdn``, else ``phone``, ``number`` or ``mobile`` (header names
compared case-insensitively, spaces trimmed); every other column may fill a placeholder of
the same name (exact name first, then case-insensitively).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from campaigns.errors import InputError

NUMBER_COLUMNS = ("msisdn", "phone", "number", "mobile")
Row = tuple[int, str, tuple[str | None, ...] | None]
Recipients = str | os.PathLike[str] | Iterable[str | int | Mapping[str, Any]]


class RowSource:
    """The rows of one recipient list; use as a context manager so a CSV file gets closed.

    The CSV header is read and checked when the source is made, so a missing number or
    placeholder column is reported before anything else happens.
    """

    def __init__(self, recipients: Recipients, names: tuple[str, ...]) -> None:
        self._names = names
        self._file: IO[str] | None = None
        if isinstance(recipients, str | os.PathLike):
            self._rows = self._csv_rows(Path(recipients))
        elif isinstance(recipients, bytes | Mapping):
            raise InputError(
                "recipients: expected a CSV path or an iterable of numbers or dicts, "
                f"got {type(recipients).__name__}"
            )
        else:
            self._rows = _iterable_rows(recipients, names)

    def __iter__(self) -> Iterator[Row]:
        return self._rows

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the CSV file, if one is open."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _csv_rows(self, path: Path) -> Iterator[Row]:
        try:
            # Undecodable bytes become lone surrogates, caught per row in the columns used,
            # so the error names the row (a strict decoder fails a whole buffer at once).
            self._file = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise InputError(f"recipients: cannot open {str(path)!r}: {exc.strerror}") from None
        reader = csv.reader(self._file)
        header = _read_header(reader, path)
        number_at = _number_column(header, path)
        value_at = tuple(_placeholder_column(header, name, path) for name in self._names)
        return _csv_body(reader, path, number_at, value_at, header)


def _read_header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{path.name}: unreadable CSV header ({exc})") from None
    if not header:
        raise InputError(f"{path.name}: the CSV file is empty (no header row)")
    if any(not _is_utf8(h) for h in header):
        raise InputError(f"{path.name}: the header is not UTF-8 text (save the file as UTF-8)")
    return [h.strip() for h in header]


def _is_utf8(value: str) -> bool:
    """False for text holding bytes that were not UTF-8 (decoded as lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_column(header: list[str], path: Path) -> int:
    lowered = [h.lower() for h in header]
    for candidate in NUMBER_COLUMNS:
        if candidate in lowered:
            return lowered.index(candidate)
    raise InputError(
        f"{path.name}: no number column: the header needs one of "
        f"{', '.join(NUMBER_COLUMNS)} (found: {', '.join(header)})"
    )


def _placeholder_column(header: list[str], name: str, path: Path) -> int:
    if name in header:
        return header.index(name)
    lowered = [h.lower() for h in header]
    if name.lower() in lowered:
        return lowered.index(name.lower())
    raise InputError(
        f'{path.name}: no column "{name}" for placeholder {{{name}}} (found: {", ".join(header)})'
    )


def _csv_body(
    reader: Iterator[list[str]],
    path: Path,
    number_at: int,
    value_at: tuple[int, ...],
    header: list[str],
) -> Iterator[Row]:
    row_no = 0
    try:
        for record in reader:
            row_no += 1
            if not record:
                continue  # a blank line: counted, so row numbers match the file, not sent
            width = len(record)
            raw = record[number_at] if number_at < width else ""
            if not raw.isascii() and not _is_utf8(raw):
                raise _not_utf8(path, row_no, header[number_at])
            if not value_at:
                yield row_no, raw, None
                continue
            values = tuple(record[i] if i < width else None for i in value_at)
            for i, value in zip(value_at, values, strict=True):
                if value is not None and not _is_utf8(value):
                    raise _not_utf8(path, row_no, header[i])
            yield row_no, raw, values
    except csv.Error as exc:
        raise InputError(f"{path.name}: row {row_no + 1}: unreadable CSV ({exc})") from None


def _not_utf8(path: Path, row_no: int, column: str) -> InputError:
    return InputError(
        f'{path.name}: row {row_no}: column "{column}" is not UTF-8 text (save the file as UTF-8)'
    )


def _iterable_rows(items: Iterable[Any], names: tuple[str, ...]) -> Iterator[Row]:
    for row_no, item in enumerate(items, start=1):
        if isinstance(item, str):
            yield row_no, item, None
        elif isinstance(item, int) and not isinstance(item, bool):
            yield row_no, str(item), None
        elif isinstance(item, Mapping):
            yield row_no, _dict_number(row_no, item), _dict_values(item, names)
        else:
            raise InputError(
                f"row {row_no}: expected a number or a dict with an msisdn, "
                f"got {type(item).__name__}"
            )


def _dict_number(row_no: int, item: Mapping[str, Any]) -> str:
    for key in NUMBER_COLUMNS:
        if key in item and item[key] is not None:
            return str(item[key])
    raise InputError(f'row {row_no}: no "msisdn" key (keys: {", ".join(map(str, item))})')


def _dict_values(item: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str | None, ...] | None:
    if not names:
        return None
    return tuple(None if item.get(n) is None else str(item[n]) for n in names)
