"""The adapters' extras against the sandbox: balances, AamarSMS OTP and smsstatus, SMSPresto
counters and the list-archive pages a reconciler reads to settle lost outcomes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from providers import (
    Account,
    Batch,
    ErrorKind,
    GatewayError,
    NumberResult,
    ResultState,
    aamarsms,
    smspresto,
)
from providers.registry import get_adapter
from providers.sandbox import accounts as demo
from providers.sandbox import segment_count
from providers.sandbox.client import SandboxClient
from tests.roundtrip.helpers import (
    BD,
    CI,
    recorded,
    send,
    send_error,
    states,
    with_credentials,
    with_options,
)

pytestmark = pytest.mark.integration

SENT, FAILED, UNKNOWN = ResultState.SENT, ResultState.FAILED, ResultState.UNKNOWN
FUNDED = demo.FUNDED_BALANCE
PRICE = demo.AAMAR_PRICE_PER_SEGMENT_BDT
METHODS = ["POST", "GET"]


def balance(http: httpx.Client, account: Account) -> float:
    """The balance as the adapter's own balance request and parser read it."""
    adapter = get_adapter(account.provider)
    assert adapter.balance is not None
    return adapter.balance.parse(http.send(adapter.balance.build_request(account)))


def presto(accounts: dict[str, Account], method: str, name: str = "smspresto") -> Account:
    return with_options(accounts[name], method=method)


# --- balances ------------------------------------------------------------------------------


def test_aamarsms_balance_decreases_by_the_cost_of_what_was_sent(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = accounts["aamarsms"]
    assert balance(http, account) == FUNDED
    text = "প্রিয় গ্রাহক, আপনার অর্ডারটি প্রস্তুত। আগামীকাল আপনার ঠিকানায় পৌঁছে দেওয়া হবে। ধন্যবাদ।"
    assert segment_count(text) == 2
    send(http, account, Batch(BD, text=text))
    send(http, account, Batch(BD[:1], text="hello"))
    after = balance(http, account)
    assert after == pytest.approx(FUNDED - (3 * 2 + 1) * PRICE)
    assert after == pytest.approx(sandbox.balances()["aamarsms"])
    # A failed number costs nothing.
    send(http, account, Batch(("8801212345678",), text="hello"))
    assert balance(http, account) == pytest.approx(after)


def test_aamarsms_balance_of_an_empty_account_is_zero(
    http: httpx.Client, accounts: dict[str, Account]
) -> None:
    assert balance(http, accounts["aamarsms_no_credits"]) == 0.0


def test_aamarsms_balance_with_a_wrong_password_is_an_account_error(
    http: httpx.Client, accounts: dict[str, Account]
) -> None:
    with pytest.raises(GatewayError) as info:
        balance(http, with_credentials(accounts["aamarsms"], password="wrong"))
    assert (info.value.kind, info.value.code) == (ErrorKind.ACCOUNT, "105")
    assert info.value.message == "Invalid credential."


@pytest.mark.parametrize("method", METHODS)
def test_smspresto_balance_decreases_by_segments_sent(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], method: str
) -> None:
    account = presto(accounts, method)
    assert balance(http, account) == FUNDED
    texts = ("court", "long " * 40, "emoji ✅")  # 1, 2 (200 GSM-7 chars) and 1 segments
    assert [segment_count(t) for t in texts] == [1, 2, 1]
    send(http, accounts["smspresto"], Batch(CI, texts=texts))
    assert balance(http, account) == FUNDED - 4
    assert sandbox.balances()["smspresto"] == FUNDED - 4
    assert balance(http, presto(accounts, method, "smspresto_no_credits")) == 0.0


# --- AamarSMS OTP and smsstatus --------------------------------------------------------


def otp(http: httpx.Client, account: Account, batch: Batch) -> list[NumberResult]:
    response = http.send(aamarsms.build_otp_request(account, batch))
    assert response.request.url.path == "/otp"
    return aamarsms.parse_otp(batch, response)


def test_aamarsms_otp_delivered_and_recorded(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    text = "আপনার OTP কোড 482910"
    results = otp(http, accounts["aamarsms"], Batch(BD[:1], text=text))
    assert [(r.msisdn, r.state, r.message) for r in results] == [(BD[0], SENT, "Delivered")]
    assert results[0].credits == pytest.approx(PRICE * segment_count(text))
    assert recorded(sandbox, "aamarsms") == [(BD[0], text, demo.AAMAR_SENDER)]


def test_aamarsms_otp_to_an_invalid_number_fails_it(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    results = otp(http, accounts["aamarsms"], Batch(("8801212345678",), text="OTP 1234"))
    assert [(r.state, r.code, r.message) for r in results] == [
        (FAILED, "Failed", "SMS send failed.")
    ]
    assert recorded(sandbox) == []


def test_aamarsms_otp_refusals(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    with pytest.raises(GatewayError) as two:
        aamarsms.build_otp_request(accounts["aamarsms"], Batch(BD[:2], text="OTP 1234"))
    assert two.value.kind is ErrorKind.REQUEST
    with pytest.raises(GatewayError) as broke:
        otp(http, accounts["aamarsms_no_credits"], Batch(BD[:1], text="OTP 1234"))
    assert (broke.value.kind, broke.value.code) == (ErrorKind.ACCOUNT, "106")
    assert broke.value.message == "Your Balance is not sufficient."
    assert recorded(sandbox) == []


def status(http: httpx.Client, account: Account, smsid: str) -> tuple[ResultState, str]:
    return aamarsms.parse_status(http.send(aamarsms.build_status_request(account, smsid)))


def test_aamarsms_smsstatus_of_recorded_messages(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = accounts["aamarsms"]
    send(http, account, Batch(BD, text="hello"))
    otp(http, account, Batch(BD[:1], text="OTP 1234"))
    ids = [m.message_id for m in sandbox.messages(account="aamarsms")]
    assert len(ids) == 4
    # The manual's shape, 910-17XXXXXXX: a sequence number, a dash, the number without 880.
    assert [i.split("-", 1)[1] for i in ids] == [n[3:] for n in (*BD, BD[0])]
    sandbox.set_fates("delivered")  # the sandbox reports PENDING until a fate is set
    assert [status(http, account, i) for i in ids] == [(SENT, "SENT")] * 4


def test_aamarsms_smsstatus_of_unknown_and_empty_ids(
    http: httpx.Client, accounts: dict[str, Account]
) -> None:
    account = accounts["aamarsms"]
    assert status(http, account, "910-1711000001") == (FAILED, "FAILED")
    with pytest.raises(GatewayError) as empty:
        status(http, account, "")
    assert (empty.value.kind, empty.value.code, empty.value.message) == (
        ErrorKind.REQUEST,
        "109",
        "smsid empty",
    )
    with pytest.raises(GatewayError) as login:
        status(http, with_credentials(account, password="wrong"), "910-1711000001")
    assert (login.value.kind, login.value.code) == (ErrorKind.ACCOUNT, "105")


# --- SMSPresto counters -----------------------------------------------------------------


def counter(http: httpx.Client, account: Account, action: str) -> int:
    return smspresto.parse_counter(http.send(smspresto.build_counter_request(account, action)))


@pytest.mark.parametrize("method", METHODS)
def test_smspresto_counters_follow_the_record(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], method: str
) -> None:
    account = presto(accounts, method)
    assert counter(http, account, "get-send") == 0
    send(http, accounts["smspresto"], Batch(CI, text="un"))
    send(http, accounts["smspresto"], Batch(CI[:2], texts=("deux", "trois")))
    sandbox.set_faults(next={"http_503": 1})
    with pytest.raises(GatewayError):
        send(http, accounts["smspresto"], Batch(CI, text="jamais"))
    assert len(sandbox.messages(account="smspresto")) == 5
    assert counter(http, account, "get-send") == 5
    assert counter(http, account, "get-success") == 5
    assert counter(http, account, "get-failed") == 0
    assert counter(http, account, "get-stock") == FUNDED - 5
    totals = sorted(a for a in smspresto.COUNTER_ACTIONS if a.endswith("-total"))
    assert len(totals) == 6
    assert [counter(http, account, a) for a in totals] == [0] * 6


def test_smspresto_counter_errors(http: httpx.Client, accounts: dict[str, Account]) -> None:
    with pytest.raises(GatewayError) as wrong:
        counter(http, with_credentials(accounts["smspresto"], api_pass="wrong"), "get-stock")
    assert (wrong.value.kind, wrong.value.code, wrong.value.message) == (
        ErrorKind.ACCOUNT,
        "11",
        "Invalid password",
    )
    with pytest.raises(ValueError, match="unknown SMSPresto counter"):
        smspresto.build_counter_request(accounts["smspresto"], "get-everything")


# --- SMSPresto list-archive: paging and reconciling lost outcomes -----------------------


def archive(
    http: httpx.Client, account: Account, limit: int, day: date | None = None
) -> list[list[smspresto.ArchiveEntry]]:
    """Every page of the archive around ``day`` (today, UTC), read until an empty one."""
    day = day or datetime.now(UTC).date()
    first, last = day - timedelta(days=1), day + timedelta(days=1)
    pages: list[list[smspresto.ArchiveEntry]] = []
    offset = 0
    while True:
        request = smspresto.build_archive_request(account, first, last, offset, limit)
        page = smspresto.parse_archive(http.send(request), tz=smspresto.archive_timezone(account))
        if not page:
            return pages
        assert len(page) <= limit
        pages.append(page)
        offset += len(page)
        assert len(pages) < 50, "paging does not end"


@pytest.mark.parametrize("method", METHODS)
def test_smspresto_archive_pages_are_exactly_the_record(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], method: str
) -> None:
    sender = accounts["smspresto"]
    send(http, sender, Batch(CI, text="Votre code: 1234"))
    send(http, sender, Batch(CI[:2], texts=("Bonjour Rémi 👋", "long " * 40)))
    sandbox.set_fates("delivered")  # HIS_STATUT "1", the manual's; "0" (pending) until set
    pages = archive(http, presto(accounts, method), limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    entries = [e for page in pages for e in page]
    records = sandbox.messages(account="smspresto")
    assert [(e.id, e.msisdn, e.message, e.sender, e.segments) for e in entries] == [
        (m.message_id, m.msisdn, m.text, m.sender, m.segments) for m in records
    ]
    assert len({e.id for e in entries}) == 5  # no overlap between pages
    for entry, record in zip(entries, records, strict=True):
        assert entry.status == "1" and entry.account_ref == "SP2250700000001"
        assert entry.created_at is not None and entry.created_at.tzinfo is not None
        assert abs(entry.created_at.timestamp() - record.wall_time) < 1.5


def test_smspresto_archive_outside_the_dates_is_empty(
    http: httpx.Client, accounts: dict[str, Account]
) -> None:
    account = accounts["smspresto"]
    send(http, account, Batch(CI, text="aujourd'hui"))
    assert archive(http, account, limit=10, day=date(2017, 4, 27)) == []
    assert [len(p) for p in archive(http, account, limit=10)] == [3]


def test_smspresto_archive_reconciles_lost_outcomes(
    sandbox: SandboxClient, http: httpx.Client, accounts: dict[str, Account]
) -> None:
    """A timed-out send leaves its numbers unknown; the archive says they were taken."""
    account = accounts["smspresto"]
    assert states(send(http, account, Batch(CI[:1], text="premier"))) == [(CI[0], SENT)]
    # Lost: accepted, but the answer never arrives in time.
    sandbox.set_faults(hold_s=0.6, next={"timeout_after_accept": 1})
    lost = Batch(CI[1:], texts=("perdu un", "perdu deux"))
    with httpx.Client(timeout=httpx.Timeout(5.0, read=0.15)) as short:
        lost_error = send_error(short, account, lost)
    assert lost_error.kind is ErrorKind.AMBIGUOUS
    # Refused before accepting: retryable, and never in the archive.
    sandbox.set_faults(next={"http_503": 1})
    refused = Batch(("2250909090909",), text="refusé")
    assert send_error(http, account, refused).kind is ErrorKind.RETRYABLE

    found = {(e.msisdn, e.message) for page in archive(http, account, limit=2) for e in page}
    assert found == {(CI[0], "premier"), (CI[1], "perdu un"), (CI[2], "perdu deux")}
    pairs = zip(lost.msisdns, lost.texts or (), strict=True)
    settled = [(m, SENT if (m, t) in found else UNKNOWN) for m, t in pairs]
    assert settled == [(CI[1], SENT), (CI[2], SENT)]
    assert ("2250909090909", "refusé") not in found


def test_smspresto_archive_with_wrong_credentials_is_an_error_not_empty(
    http: httpx.Client, accounts: dict[str, Account]
) -> None:
    account = with_credentials(accounts["smspresto"], api_key="not-a-key")
    today = datetime.now(UTC).date()
    request = smspresto.build_archive_request(account, today, today, 0, 10)
    with pytest.raises(GatewayError) as info:
        smspresto.parse_archive(http.send(request))
    assert (info.value.kind, info.value.code) == (ErrorKind.ACCOUNT, "10")
