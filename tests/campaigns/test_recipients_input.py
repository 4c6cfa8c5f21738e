"""Reading recipient lists: CSV columns, aliases, blank lines, bad files; iterables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaigns.errors import InputError
from campaigns.recipients_input import RowSource


def _write(tmp_path: Path, content: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "list.csv"
    path.write_bytes(content.encode(encoding))
    return path


def test_csv_rows_with_placeholder_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "Name,Phone,city\nRam,9841000001,KTM\nSita,9841000002,PKR\n")
    with RowSource(path, ("name", "city")) as rows:
        assert list(rows) == [
            (1, "9841000001", ("Ram", "KTM")),
            (2, "9841000002", ("Sita", "PKR")),
        ]


@pytest.mark.parametrize("column", ["msisdn", "MSISDN", " phone ", "number", "Mobile"])
def test_number_column_aliases(tmp_path: Path, column: str) -> None:
    path = _write(tmp_path, f"name,{column}\nRam,9841000001\n")
    with RowSource(str(path), ()) as rows:
        assert list(rows) == [(1, "9841000001", None)]


def test_bom_blank_lines_and_short_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffmsisdn,name\n9841000001,Ram\n\n9841000002\n")
    with RowSource(path, ("name",)) as rows:
        # The blank line counts as row 2 (so numbers match the file) but yields nothing.
        assert list(rows) == [(1, "9841000001", ("Ram",)), (3, "9841000002", (None,))]


def test_missing_number_column_names_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "name,tel\nRam,9841000001\n")
    with pytest.raises(InputError, match=r"no number column.*msisdn, phone.*found: name, tel"):
        RowSource(path, ())


def test_missing_placeholder_column_names_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "msisdn,first\n9841000001,Ram\n")
    with pytest.raises(InputError, match=r'no column "name" for placeholder \{name\}'):
        RowSource(path, ("name",))


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        RowSource(_write(tmp_path, ""), ())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        RowSource(tmp_path / "nope.csv", ())


def test_not_utf8_names_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "msisdn,name\n9841000001,Ram\n9841000002,J\xe9r\xf4me\n", "latin-1")
    with RowSource(path, ("name",)) as source:
        rows = iter(source)
        assert next(rows) == (1, "9841000001", ("Ram",))
        with pytest.raises(InputError, match='row 2: column "name" is not UTF-8'):
            next(rows)


def test_bytes_in_an_unused_column_do_not_matter(tmp_path: Path) -> None:
    path = _write(tmp_path, "msisdn,note\n9841000001,caf\xe9\n", "latin-1")
    with RowSource(path, ()) as rows:
        assert list(rows) == [(1, "9841000001", None)]


def test_iterables_of_strings_ints_and_dicts() -> None:
    items: list[str | int | dict[str, Any]] = [
        "9841000001", 9841000002, {"msisdn": "9841000003", "name": "Hari"}, {"phone": 1},
    ]  # fmt: skip
    with RowSource(items, ("name",)) as rows:
        assert list(rows) == [
            (1, "9841000001", None),
            (2, "9841000002", None),
            (3, "9841000003", ("Hari",)),
            (4, "1", (None,)),
        ]


def test_dict_without_number_and_odd_items_name_the_row() -> None:
    with RowSource([{"name": "x"}], ()) as rows, pytest.raises(InputError, match="row 1: no"):
        list(rows)
    odd: list[Any] = ["9841000001", 3.5]  # not what the type allows, as callers may pass
    with RowSource(odd, ()) as rows, pytest.raises(InputError, match="row 2"):
        list(rows)


def test_a_bare_mapping_is_not_a_list() -> None:
    with pytest.raises(InputError, match="got dict"):
        RowSource({"msisdn": "9841000001"}, ())
