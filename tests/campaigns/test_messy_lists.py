"""Lists as people really have them: spreadsheet exports in each country's formats, their
delimiters, headers, BOMs, damaged numbers, empty cells and defaults, row by row.

Each case is a file as a spreadsheet writes it and, for every row, what planning makes of it:
``("pending", MSISDN, rendered text)`` or ``(state, number, start of the reason)``.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest

from campaigns import estimate
from campaigns.batching import ClosedBatch
from campaigns.db import get_engine
from campaigns.errors import InputError
from campaigns.planning import Planner, Settled
from campaigns.recipients_input import RowSource
from campaigns.spec import build_spec
from campaigns.suppression import SuppressionLookup
from providers import Account
from tests.campaigns.helpers import azerbaijan, bangladesh, nepal, presto

Outcome = tuple[str, str, str]


class _Recording:
    """A sink keeping every row: settled ones, and the sendable ones in their batches."""

    def __init__(self) -> None:
        self.rows: dict[int, Outcome] = {}

    def write(self, settled: list[Settled], closed: list[ClosedBatch]) -> None:
        for row in settled:
            self.rows[row.row_no] = (row.state, row.msisdn, row.reason)
        for batch in closed:
            for item in batch.items:
                self.rows[item.key] = ("pending", item.msisdn, item.text)


def planned(url: str, account: Account, path: Path, **content: Any) -> dict[int, Outcome]:
    """Every row of ``path`` as planning settles or sends it (nothing is written)."""
    spec = build_spec(
        account, text=content.get("text"), template_id=content.get("template_id"), sender=None,
        send_at=None, name=None, idempotency_key=None, max_segments=10, window=None,
        window_tz=None, accounts=None,
    )  # fmt: skip
    sink = _Recording()
    with RowSource(path, spec.names) as rows:
        Planner(spec).run(rows, sink, SuppressionLookup(get_engine(url)), require_sendable=False)
    return sink.rows


UTF16 = codecs.BOM_UTF16_LE
NP_EXPORT = (
    "Name;Phone Number;City\n"
    "Sita;9762768809.0;Kathmandu\n"  # a float export of a Ncell number
    "Ram;9.841234567E+9;Pokhara\n"  # scientific notation, every digit there
    "Hari;9.82807E+9;Lalitpur\n"  # a narrow column: four digits gone
    ";9851234567;Bhaktapur\n"  # no name
    "Gita;9762768809;Kathmandu\n"  # row 1 again, written as text
    "Maya;+977 980-1234567;\n"
    "Bikash;01-4412345;Kathmandu\n"  # a landline
    "\n"  # a blank line: counted, not sent
    "Anu;  ;Dharan\n"  # no number
)
CASES: list[tuple[str, Account, bytes, dict[str, Any], dict[int, Outcome]]] = [
    ("Nepal, semicolons, a float, scientific notation, an empty name", nepal(),
     NP_EXPORT.encode(), {"text": "Namaste {name}"}, {
         1: ("pending", "9762768809", "Namaste Sita"),
         2: ("pending", "9841234567", "Namaste Ram"),
         3: ("invalid", "9.82807E+9", "shortened by a spreadsheet: 9.82807E+9 kept only 6"),
         4: ("rejected", "9851234567", 'column "name" is empty (placeholder {name} in text)'),
         5: ("duplicate", "9762768809", "same number as row 1"),
         6: ("pending", "9801234567", "Namaste Maya"),
         7: ("invalid", "01-4412345", "fixed-line number"),
         9: ("invalid", "", "empty"),
     }),
    ("Nepal, a default for the empty name", nepal(), NP_EXPORT.encode(),
     {"text": "Namaste {Name|friend}, {city|}"}, {
         1: ("pending", "9762768809", "Namaste Sita, Kathmandu"),
         4: ("pending", "9851234567", "Namaste friend, Bhaktapur"),
         6: ("pending", "9801234567", "Namaste Maya, "),
     }),
    ("Bangladesh, Excel's Unicode text: UTF-16, tabs, numbers without their 0", bangladesh(),
     UTF16 + ("Cell\tName\r\n1712345678.0\tরহিম\r\n8.8017E+12\tKarim\r\n"
              "8.801812345678E+12\tSalma\r\n01912345678\t\r\n").encode("utf-16-le"),
     {"text": "প্রিয় {name|গ্রাহক}"}, {
         1: ("pending", "8801712345678", "প্রিয় রহিম"),
         2: ("invalid", "8.8017E+12", "shortened by a spreadsheet: 8.8017E+12 kept only 5"),
         3: ("pending", "8801812345678", "প্রিয় Salma"),
         4: ("pending", "8801912345678", "প্রিয় গ্রাহক"),
     }),
    ("Azerbaijan, UTF-8 BOM, commas, a template with a default", azerbaijan(
        templates={11: "Salam {name|dostum}, sifarisiniz hazirdir."}),
     codecs.BOM_UTF8 + b"Mobile No,name\n994501234567.0,Aysel\n551234567,\n"
     b"9.9450123E+11,Murad\n\"9,945,512,345,67\",Leyla\n", {"template_id": 11}, {
         1: ("pending", "994501234567", "Salam Aysel, sifarisiniz hazirdir."),
         2: ("pending", "994551234567", "Salam dostum, sifarisiniz hazirdir."),
         3: ("invalid", "9.9450123E+11", "shortened by a spreadsheet: 9.9450123E+11 kept only 8"),
         4: ("invalid", "9,945,512,345,67", "unexpected character ','"),
     }),
    ("Côte d'Ivoire, a French header, the 0 a numeric cell drops", presto(),
     "Téléphone,Nom\n2250707070707.0,Awa\n707070707,Koffi\n2.25070707E+12,Yao\n"
     "+225 05 05 05 05 05,Adjoua\n".encode(), {"text": "Bonjour {nom}"}, {
         1: ("pending", "2250707070707", "Bonjour Awa"),
         2: ("invalid", "707070707", "too short for a mobile number in CI"),
         3: ("invalid", "2.25070707E+12", "shortened by a spreadsheet: 2.25070707E+12 kept"),
         4: ("pending", "2250505050505", "Bonjour Adjoua"),
     }),
]  # fmt: skip


@pytest.mark.parametrize(("account", "content", "text", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_every_row_of_a_spreadsheet_export_gets_its_outcome(
    sqlite_url: str,
    tmp_path: Path,
    account: Account,
    content: bytes,
    text: dict[str, Any],
    expected: dict[int, Outcome],
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    rows = planned(sqlite_url, account, path, **text)
    for row_no, (state, number, said) in expected.items():
        got = rows.get(row_no)
        assert got is not None, (row_no, rows)
        assert got[0] == state and got[1] == number, (row_no, got)
        assert got[2].startswith(said) if state != "pending" else got[2] == said, (row_no, got)


def test_a_2_gigabyte_line_fails_naming_its_row_and_writes_no_rejects(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    with path.open("wb") as f:
        f.write(b"phone;name\n9841000001;Sita\n9841000002;")
        f.truncate(2 * 1024**3)
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(InputError, match="export.csv: row 2 is longer than 100,000 characters"):
        estimate(nepal(), path, text="Hi {name}", rejects=rejects, database_url=sqlite_url)
    left = [p.name for p in tmp_path.iterdir() if "rejects" in p.name]
    assert left == []  # no rejects file, not even a temporary one
