"""Reading recipient lists: CSV columns, aliases, delimiters, encodings, blank lines, bad and
oversized files; iterables."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path
from typing import Any

import pytest

from campaigns.csvfile import MAX_ROW_CHARS
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
    path = _write(tmp_path, "name,email\nRam,9841000001\n")
    with pytest.raises(InputError, match=r"no number column.*msisdn, phone.*found: name, email"):
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


# (label, file bytes, placeholder names, expected rows): how spreadsheets write their CSVs.
READABLE = [
    ("semicolons", b"Name;Phone Number\nRam;9841000001\nSita;9841000002\n", ("name",),
     [(1, "9841000001", ("Ram",)), (2, "9841000002", ("Sita",))]),
    ("tabs", b"name\tMobile No\nRam\t9841000001\n", ("name",), [(1, "9841000001", ("Ram",))]),
    ("semicolons with decimal commas", b"msisdn;name\n9762768809,0;Ram\n", ("name",),
     [(1, "9762768809,0", ("Ram",))]),
    ("a quoted comma in a semicolon header", b'"Name, full";MSISDN\nRam, B;9841000001\n',
     ("Name, full",), [(1, "9841000001", ("Ram, B",))]),
    ("one column, no delimiter", b"Phone\n9841000001\n", (), [(1, "9841000001", None)]),
    ("UTF-8 BOM", codecs.BOM_UTF8 + b"Mobile;name\n9841000001;Ram\n", ("name",),
     [(1, "9841000001", ("Ram",))]),
    ("UTF-16 LE with BOM and tabs (Excel's Unicode text)",
     codecs.BOM_UTF16_LE + "Cell\tname\r\n9841000001\tरा\r\n".encode("utf-16-le"), ("name",),
     [(1, "9841000001", ("रा",))]),
    ("UTF-16 BE with BOM", codecs.BOM_UTF16_BE + "contact,name\n9841000001,Ram\n".encode(
        "utf-16-be"), ("name",), [(1, "9841000001", ("Ram",))]),
    ("old Mac line ends", b"MSISDN,name\r9841000001,Ram\r9841000002,Sita\r", ("name",),
     [(1, "9841000001", ("Ram",)), (2, "9841000002", ("Sita",))]),
    ("a placeholder matched loosely", b"Phone,First Name\n9841000001,Ram\n", ("first_name",),
     [(1, "9841000001", ("Ram",))]),
    ("a quoted field over two lines", b'msisdn,note\n9841000001,"a\nb"\n9841000002,c\n',
     ("note",), [(1, "9841000001", ("a\nb",)), (2, "9841000002", ("c",))]),
]  # fmt: skip


@pytest.mark.parametrize(("content", "names", "rows"), [c[1:] for c in READABLE],
                         ids=[c[0] for c in READABLE])  # fmt: skip
def test_spreadsheet_csvs_are_read_as_written(
    tmp_path: Path, content: bytes, names: tuple[str, ...], rows: list[object]
) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with RowSource(path, names) as source:
        assert list(source) == rows


@pytest.mark.parametrize(
    ("header", "column"),
    [("name,Phone Number", "Phone Number"), ("Mobile No.,name", "Mobile No."),
     ("name,PHONE", "PHONE"), ("name, mobile_number ", "mobile_number"), ("Téléphone", "Téléphone"),
     ("Contact,Phone", "Phone"), ("Phone,Mobile", "Phone"), ("Cell,name", "Cell")],
)  # fmt: skip
def test_number_column_by_its_many_names(tmp_path: Path, header: str, column: str) -> None:
    path = _write(tmp_path, f"{header}\n9841000001,x\n")
    with RowSource(path, ()) as source:
        assert source.number_column == column


def test_phone_column_names_the_number_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "Phone,Alt Phone\n9841000001,9841000002\n")
    with RowSource(path, (), phone_column="alt phone") as source:
        assert list(source) == [(1, "9841000002", None)]
        assert source.number_column == "Alt Phone"
    with pytest.raises(InputError, match=r'phone_column "Fax" is not in the header.*Alt Phone'):
        RowSource(path, (), phone_column="Fax")
    with RowSource([{"alt": "9841000003", "msisdn": "x"}], (), phone_column="alt") as source:
        assert list(source) == [(1, "9841000003", None)]


def test_a_row_over_the_limit_is_refused_without_reading_the_rest(tmp_path: Path) -> None:
    """A 2 GB file with no newline after its first row: the reader stops at the limit."""
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.write(b"msisdn,name\n9841000001,Ram\n9841000002,")
        f.truncate(2 * 1024**3)  # sparse: two gigabytes of NUL bytes, no newline
    with RowSource(path, ("name",)) as source:
        rows = iter(source)
        assert next(rows) == (1, "9841000001", ("Ram",))
        with pytest.raises(InputError, match=rf"huge.csv: row 2 is longer than {MAX_ROW_CHARS:,}"):
            next(rows)


def test_a_header_over_the_limit_and_a_quoted_field_that_never_ends(tmp_path: Path) -> None:
    path = tmp_path / "noline.csv"
    path.write_bytes(b"m" * (MAX_ROW_CHARS + 10))
    with pytest.raises(InputError, match="noline.csv: the header is longer than"):
        RowSource(path, ())
    path.write_bytes(b'msisdn,name\n9841000001,"Ram\n' + b"x\n" * MAX_ROW_CHARS)
    with RowSource(path, ("name",)) as source, pytest.raises(InputError, match="row 1 is longer"):
        list(source)


def test_a_field_over_the_csv_modules_limit_names_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path, "msisdn,name\n9841000001," + "x" * 2_000 + "\n")
    previous = csv.field_size_limit(1_000)  # as another library in the process might set it
    try:
        with (
            RowSource(path, ("name",)) as source,
            pytest.raises(InputError, match="row 1: a field is longer than 1,000 characters"),
        ):
            list(source)
    finally:
        csv.field_size_limit(previous)
