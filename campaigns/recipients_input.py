"""Reading a recipient list lazily: a CSV file, or an iterable of numbers or of dicts.

Every source yields ``(row_no, raw_number, values)`` where ``row_no`` is the 1-based position
in the list (the CSV header not counted; blank CSV lines count but are skipped) and
``values`` are the row's placeholder values aligned with the text's placeholder names (None
where the row has none). Nothing is read whole: a million-line CSV streams row by row.

A CSV is opened by ``campaigns.csvfile``: UTF-8 or UTF-16 by its BOM, comma, semicolon or tab
by its header, no row read past ``MAX_ROW_CHARS``. The number is the column named by
``phone_column``, else the first of ``NUMBER_COLUMNS`` the header has, names compared loosely
(case, accents, spaces and punctuation ignored: ``Mobile No.`` is ``mobile no``). Every other
column may fill a placeholder of the same name (exact name first, then loosely).
"""

from __future__ import annotations

import csv
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

from campaigns.csvfile import MAX_ROW_CHARS, RowTooLong, open_csv
from campaigns.errors import InputError

# The headers a number column goes by, in order of preference when a file has several; the
# first four were the only ones before, and keep their order.
NUMBER_COLUMNS: Final = (
    "msisdn", "phone", "number", "mobile", "Phone Number", "Mobile Number", "Mobile No",
    "Phone No", "Cell", "Cell Phone", "Cell No", "Mobile Phone", "Telephone", "Tel", "Telefon",
    "Mobil", "Numéro", "GSM", "WhatsApp", "Contact", "Contact Number", "Contact No",
)  # fmt: skip
Row = tuple[int, str, tuple[str | None, ...] | None]
Recipients = str | os.PathLike[str] | Iterable[str | int | Mapping[str, Any]]


class RowSource:
    """The rows of one recipient list; use as a context manager so a CSV file gets closed.

    The CSV header is read and checked when the source is made, so a missing number or
    placeholder column is reported before anything else happens.
    """

    def __init__(
        self, recipients: Recipients, names: tuple[str, ...], *, phone_column: str | None = None
    ) -> None:
        self._names = names
        self._phone_column = phone_column
        self._file: IO[str] | None = None
        self.number_column: str | None = None  # the CSV header's number column, once read
        if isinstance(recipients, str | os.PathLike):
            self._rows = self._csv_rows(Path(recipients))
        elif isinstance(recipients, bytes | Mapping):
            raise InputError(
                "recipients: expected a CSV path or an iterable of numbers or dicts, "
                f"got {type(recipients).__name__}"
            )
        else:
            self._rows = _iterable_rows(recipients, names, phone_column)

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
            self._file, reader = open_csv(path)
        except RowTooLong as exc:
            raise InputError(f"{path.name}: the header is {exc} (is it a CSV file?)") from None
        header = _read_header(reader, path)
        number_at = _number_column(header, path, self._phone_column)
        self.number_column = header[number_at]
        value_at = tuple(_placeholder_column(header, name, path) for name in self._names)
        return _csv_body(reader, path, number_at, value_at, header)


def _read_header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{path.name}: unreadable CSV header ({exc})") from None
    except RowTooLong as exc:
        raise InputError(f"{path.name}: the header is {exc} (is it a CSV file?)") from None
    if not header:
        raise InputError(f"{path.name}: the CSV file is empty (no header row)")
    if any(not _is_utf8(h) for h in header):
        raise InputError(f"{path.name}: the header is not UTF-8 text (save the file as UTF-8)")
    return [h.strip() for h in header]


def header_key(name: str) -> str:
    """A column name compared loosely: "Mobile No." and "mobile_no" are both "mobileno"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


_NUMBER_KEYS: Final = tuple(header_key(name) for name in NUMBER_COLUMNS)
_DICT_NUMBER_KEYS: Final = NUMBER_COLUMNS[:4]  # a dict's keys are a program's: exact names


def _is_utf8(value: str) -> bool:
    """False for text holding bytes that were not UTF-8 (decoded as lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _number_column(header: list[str], path: Path, phone_column: str | None) -> int:
    keys = [header_key(h) for h in header]
    if phone_column is not None:
        if header_key(phone_column) in keys:
            return keys.index(header_key(phone_column))
        raise InputError(
            f'{path.name}: phone_column "{phone_column}" is not in the header '
            f"(found: {', '.join(header)})"
        )
    for candidate in _NUMBER_KEYS:
        if candidate in keys:
            return keys.index(candidate)
    raise InputError(
        f"{path.name}: no number column: the header needs one of {', '.join(NUMBER_COLUMNS)} "
        f"(any case or punctuation), or name yours with phone_column / --phone-column "
        f"(found: {', '.join(header)})"
    )


def _placeholder_column(header: list[str], name: str, path: Path) -> int:
    if name in header:
        return header.index(name)
    lowered = [h.lower() for h in header]
    if name.lower() in lowered:
        return lowered.index(name.lower())
    keys = [header_key(h) for h in header]
    if header_key(name) in keys:
        return keys.index(header_key(name))
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
    except RowTooLong as exc:
        raise InputError(
            f"{path.name}: row {row_no + 1} is {exc} (is it a CSV file?); nothing after it was read"
        ) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            limit = min(csv.field_size_limit(), MAX_ROW_CHARS)
            raise InputError(
                f"{path.name}: row {row_no + 1}: a field is longer than {limit:,} characters"
            ) from None
        raise InputError(f"{path.name}: row {row_no + 1}: unreadable CSV ({exc})") from None


def _not_utf8(path: Path, row_no: int, column: str) -> InputError:
    return InputError(
        f'{path.name}: row {row_no}: column "{column}" is not UTF-8 text (save the file as UTF-8)'
    )


def _iterable_rows(
    items: Iterable[Any], names: tuple[str, ...], phone_column: str | None
) -> Iterator[Row]:
    for row_no, item in enumerate(items, start=1):
        if isinstance(item, str):
            yield row_no, item, None
        elif isinstance(item, int) and not isinstance(item, bool):
            yield row_no, str(item), None
        elif isinstance(item, Mapping):
            yield row_no, _dict_number(row_no, item, phone_column), _dict_values(item, names)
        else:
            raise InputError(
                f"row {row_no}: expected a number or a dict with an msisdn, "
                f"got {type(item).__name__}"
            )


def _dict_number(row_no: int, item: Mapping[str, Any], phone_column: str | None) -> str:
    for key in (phone_column,) if phone_column is not None else _DICT_NUMBER_KEYS:
        if key in item and item[key] is not None:
            return str(item[key])
    wanted = phone_column or "msisdn"
    raise InputError(f'row {row_no}: no "{wanted}" key (keys: {", ".join(map(str, item))})')


def _dict_values(item: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str | None, ...] | None:
    if not names:
        return None
    return tuple(None if item.get(n) is None else str(item[n]) for n in names)
