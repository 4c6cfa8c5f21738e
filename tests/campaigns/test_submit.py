"""submit_campaign per gateway: what gets planned, and how batches fit each gateway's rules.

Each test runs on SQLite and on PostgreSQL (``db_url``); requests are rebuilt from the
database the way the worker does and handed to the real adapters.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from campaigns import get_campaign, iter_recipients, submit_campaign, suppress
from tests.campaigns.helpers import (
    azerbaijan,
    bangladesh,
    bd_numbers,
    ci_numbers,
    nepal,
    nepal_numbers,
    nepal_v1,
    planned_requests,
    presto,
)

BANGLA = "প্রিয় গ্রাহক, আপনার মাসিক বিল প্রস্তুত। অনুগ্রহ করে সময়মতো পরিশোধ করুন। ধন্যবাদ।"


def test_plain_text_batches_of_100_with_invalid_and_duplicate_rows_recorded(
    db_url: str, dispatched: list[int]
) -> None:
    numbers = nepal_numbers(250)
    numbers[10:10] = ["12345", numbers[3], "+977 984-0000007", "hello"]
    campaign_id = submit_campaign(nepal(), numbers, text="Bill ready", database_url=db_url)

    info = get_campaign(campaign_id, database_url=db_url)
    assert info.state == "scheduled"
    assert info.recipients == {"pending": 250, "invalid": 2, "duplicate": 2}
    assert info.recipients_total == 254
    assert info.batches == {"pending": 3} and info.batches_total == 3
    assert info.credits_planned == 250.0 and info.encoding == "GSM-7"
    assert info.send_at is not None and info.send_at.tzinfo is not None
    assert abs((info.send_at - datetime.now(UTC)).total_seconds()) < 60
    assert dispatched == [campaign_id]

    planned = planned_requests(db_url, campaign_id, nepal())
    assert [p.size for p in planned] == [100, 100, 50]
    assert all(p.batch.text == "Bill ready" for p in planned)
    sent = [m for p in planned for m in p.batch.msisdns]
    assert sorted(sent) == sorted(set(nepal_numbers(250)))  # each number once, national form

    by_row = {r.row_no: r for r in iter_recipients(campaign_id, database_url=db_url)}
    assert (by_row[11].state, by_row[11].msisdn) == ("invalid", "12345")
    assert "too short" in (by_row[11].reason or "")
    assert (by_row[12].state, by_row[12].reason) == ("duplicate", "same number as row 4")
    assert (by_row[13].state, by_row[13].msisdn) == ("duplicate", "9840000007")
    assert by_row[14].state == "invalid" and by_row[14].reason == "contains letters"
    assert by_row[1].credits == 1.0 and by_row[1].segments == 1


def test_csv_with_personal_texts_groups_recipients_by_rendered_text(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    lines = ["name,msisdn,city"] + [
        f"{['Ram', 'Sita', 'Hari'][i % 3]},{n},KTM" for i, n in enumerate(nepal_numbers(30))
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    account = nepal_v1(max_recipients=4)
    campaign_id = submit_campaign(
        account, path, text="Namaste {name} from {city}", database_url=db_url
    )

    planned = planned_requests(db_url, campaign_id, account)
    texts = Counter(p.batch.text for p in planned)
    assert texts == {"Namaste Ram from KTM": 3, "Namaste Sita from KTM": 3,
                     "Namaste Hari from KTM": 3}  # fmt: skip
    assert sorted(p.size for p in planned) == [2, 2, 2] + [4] * 6
    form = parse_qs(planned[0].request.content.decode())
    assert form["text"] == [planned[0].batch.text]
    assert len(form["to"][0].split(",")) == planned[0].size
    # One text per batch: the text lives on the batch, not on each recipient.
    assert all(r.text is None for r in iter_recipients(campaign_id, database_url=db_url))


def test_bangla_text_batches_fit_aamarsms_url_limit(db_url: str) -> None:
    account = bangladesh()
    campaign_id = submit_campaign(account, bd_numbers(400), text=BANGLA, database_url=db_url)

    info = get_campaign(campaign_id, database_url=db_url)
    assert info.encoding == "UCS-2" and info.credit_unit == "BDT"
    assert info.credits_planned is None  # AamarSMS charges taka; no price_per_segment was set
    priced = submit_campaign(
        bangladesh(price_per_segment=0.25), bd_numbers(400), text=BANGLA, database_url=db_url
    )
    assert get_campaign(priced, database_url=db_url).credits_planned == 400 * 2 * 0.25
    planned = planned_requests(db_url, campaign_id, account)
    assert len(planned) > 4  # 100 per request would be 4: the URL is the tighter limit
    assert sum(p.size for p in planned) == 400
    for p in planned:
        assert p.request.method == "GET"
        assert len(str(p.request.url)) <= 2000
        assert parse_qs(urlsplit(str(p.request.url)).query)["text"] == [BANGLA]


def test_account_url_override_is_honoured(db_url: str) -> None:
    account = bangladesh(max_url_chars=1200)
    campaign_id = submit_campaign(account, bd_numbers(150), text=BANGLA, database_url=db_url)
    planned = planned_requests(db_url, campaign_id, account)
    assert all(len(str(p.request.url)) <= 1200 for p in planned)
    assert max(len(str(p.request.url)) for p in planned) > 1200 - 14


def test_smspresto_mixes_personal_texts_in_one_request(db_url: str) -> None:
    account = presto()
    rows = [{"msisdn": n, "name": f"Awa {i % 4}"} for i, n in enumerate(ci_numbers(12))]
    campaign_id = submit_campaign(account, rows, text="Bonjour {name}", database_url=db_url)

    (planned,) = planned_requests(db_url, campaign_id, account)
    assert planned.batch.text is None and planned.batch.texts is not None
    data = json.loads(parse_qs(planned.request.content.decode())["data"][0])
    by_number = {entry["recipient"]: entry["message"] for entry in data["to"]}
    assert by_number == {f"225{n}": f"Bonjour Awa {i % 4}" for i, n in enumerate(ci_numbers(12))}


def test_smspresto_get_form_groups_by_text_under_its_url_limit(db_url: str) -> None:
    account = presto(options={"method": "GET"}, max_url_chars=600)
    rows = [{"msisdn": n, "name": f"Awa {i % 2}"} for i, n in enumerate(ci_numbers(100))]
    campaign_id = submit_campaign(account, rows, text="Bonjour {name}", database_url=db_url)
    planned = planned_requests(db_url, campaign_id, account)
    assert len(planned) > 2
    for p in planned:
        assert p.batch.text in ("Bonjour Awa 0", "Bonjour Awa 1")
        assert len(str(p.request.url)) <= 600


def test_smsplus_template_params_are_aligned_and_numbers_unique(db_url: str) -> None:
    account = azerbaijan(max_recipients=5)
    rows = [{"msisdn": f"+99450{i:07d}", "name": f"Aysel{i}", "code": str(1000 + i)}
            for i in range(12)]  # fmt: skip
    rows.append({"msisdn": "050 000 00 03", "name": "Repeat", "code": "1"})  # row 4 again
    campaign_id = submit_campaign(account, rows, template_id=7, database_url=db_url)

    info = get_campaign(campaign_id, database_url=db_url)
    assert info.recipients == {"pending": 12, "duplicate": 1}
    planned = planned_requests(db_url, campaign_id, account)
    assert [p.size for p in planned] == [5, 5, 2]
    for p in planned:
        body = json.loads(p.request.content)
        numbers = body["mobile_numbers"]
        assert len(set(numbers)) == len(numbers)
        assert body["message_template_id"] == 7
        for number, name, code in zip(
            numbers, body["first_parameters"], body["second_parameters"], strict=True
        ):
            i = int(number[-7:])
            assert (name, code) == (f"Aysel{i}", str(1000 + i))
    stored = next(iter_recipients(campaign_id, "pending", database_url=db_url))
    assert stored.text is not None and stored.text.startswith("Salam Aysel")


def test_smsplus_rendered_text_over_160_chars_is_rejected_per_row(db_url: str) -> None:
    rows = [{"msisdn": n, "note": "ok"} for n in ("+994501000001", "+994501000002")]
    rows.append({"msisdn": "+994501000003", "note": "x" * 161})
    campaign_id = submit_campaign(azerbaijan(), rows, template_id=10, database_url=db_url)
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.recipients == {"pending": 2, "rejected": 1}
    (rejected,) = iter_recipients(campaign_id, "rejected", database_url=db_url)
    assert rejected.row_no == 3
    assert rejected.reason == "text is 161 characters; the gateway takes at most 160"


def test_smsplus_plain_template_has_no_params(db_url: str) -> None:
    account = azerbaijan()
    campaign_id = submit_campaign(account, ["+994501000001"], template_id=8, database_url=db_url)
    (planned,) = planned_requests(db_url, campaign_id, account)
    body = json.loads(planned.request.content)
    assert "first_parameters" not in body and body["mobile_numbers"] == ["994501000001"]


def test_suppressed_numbers_are_recorded_not_sent(db_url: str) -> None:
    suppress(["+977 9840000003"], "asked to stop", database_url=db_url)
    campaign_id = submit_campaign(nepal(), nepal_numbers(5), text="Hi", database_url=db_url)
    states = {r.msisdn: r.state for r in iter_recipients(campaign_id, database_url=db_url)}
    assert states == {n: "suppressed" if n == "9840000003" else "pending" for n in nepal_numbers(5)}
    (planned,) = planned_requests(db_url, campaign_id, nepal())
    assert "9840000003" not in planned.batch.msisdns


def test_personal_row_over_max_segments_is_rejected(db_url: str) -> None:
    rows = [{"msisdn": n, "name": "Ram"} for n in nepal_numbers(3)]
    rows[1]["name"] = "R" * 200
    campaign_id = submit_campaign(
        nepal(), rows, text="Hi {name}", max_segments=1, database_url=db_url
    )
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.recipients == {"pending": 2, "rejected": 1}
    (rejected,) = iter_recipients(campaign_id, "rejected", database_url=db_url)
    assert rejected.row_no == 2 and rejected.segments == 2
    assert rejected.reason == "text is 2 segments (GSM-7); max_segments is 1"


def test_send_time_window_and_name_are_stored(db_url: str) -> None:
    send_at = datetime(2031, 5, 1, 9, 30, tzinfo=UTC) + timedelta(hours=5, minutes=45)
    campaign_id = submit_campaign(
        nepal(), nepal_numbers(2), text="Hi", name="May bills",
        send_at=send_at.astimezone(), window=("09:00", "18:00"), window_tz="Asia/Kathmandu",
        sender="SHOP", database_url=db_url,
    )  # fmt: skip
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.send_at == send_at and info.send_at.tzinfo is not None
    assert (info.window, info.window_tz, info.name) == (
        ("09:00", "18:00"), "Asia/Kathmandu", "May bills",
    )  # fmt: skip


def test_emoji_and_unicode_texts_are_counted_as_ucs2(db_url: str) -> None:
    text = "नमस्ते 🙏" * 10
    campaign_id = submit_campaign(nepal(), nepal_numbers(2), text=text, database_url=db_url)
    info = get_campaign(campaign_id, database_url=db_url)
    # 90 UTF-16 units (the emoji counts two) -> 2 parts of at most 67 units, per number.
    assert (info.encoding, info.credits_planned) == ("UCS-2", 4.0)


def test_aakashsms_get_account_with_its_own_url_limit(db_url: str) -> None:
    account = nepal(options={"method": "GET"}, max_url_chars=400, name="")
    campaign_id = submit_campaign(
        "np-get", nepal_numbers(120), text="Namaste", accounts={"np-get": account},
        database_url=db_url,
    )  # fmt: skip
    info = get_campaign(campaign_id, database_url=db_url)
    assert info.account == "np-get"  # the configured name, which the worker looks up
    planned = planned_requests(db_url, campaign_id, account)
    assert len(planned) > 2 and sum(p.size for p in planned) == 120
    assert all(p.request.method == "GET" and len(str(p.request.url)) <= 400 for p in planned)


def test_an_account_is_known_by_its_key_in_the_mapping(db_url: str, dispatched: list[int]) -> None:
    # An Account copied from another (its name field still the original's) and given under
    # a new key is the key's account: its batches go to the queue of that name.
    renamed = nepal().model_copy(update={"name": "aakashsms_v3"})
    campaign_id = submit_campaign(
        "kathmandu", nepal_numbers(3), text="Hi", database_url=db_url,
        accounts={"kathmandu": renamed},
    )  # fmt: skip
    assert get_campaign(campaign_id, database_url=db_url).accounts[0].account == "kathmandu"
