"""Each adapter's real requests against the sandbox: parsed results and the sandbox's record.

Every test sends what ``build_request`` builds through a real ``httpx.Client`` over loopback,
parses the real answer with ``parse_response``, and checks the other side too: the sandbox
recorded exactly the accepted numbers, with the text after substitution, the account and the
sender, and nothing at all for a refused request.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

import httpx
import pytest

from providers import (
    Account,
    Batch,
    ErrorKind,
    GatewayError,
    NumberResult,
    ResultState,
    classify_transport_error,
    install_log_redaction,
    redact_url,
)
from providers.registry import get_adapter
from providers.sandbox import accounts as demo
from providers.sandbox import segment_count
from providers.sandbox.client import SandboxClient
from tests.roundtrip.helpers import (
    AZ,
    BD,
    CI,
    GATEWAYS,
    NP,
    Row,
    recorded,
    send,
    send_error,
    states,
    with_credentials,
    with_options,
)

pytestmark = pytest.mark.integration

SENT, FAILED = ResultState.SENT, ResultState.FAILED
FUNDED = demo.FUNDED_BALANCE


def one_request(sandbox: SandboxClient) -> None:
    """Every recorded message came from one HTTP request."""
    assert len({m.request_id for m in sandbox.messages()}) == 1


# --- multi-number successes -------------------------------------------------------------


def test_aakashsms_v1_emoji_text_to_three_numbers(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    text = "Dashain ko subhakamana 🎉 from smsq"
    results = send(http, accounts["aakashsms_v1"], Batch(NP, text=text))
    assert states(results) == [(n, SENT) for n in NP]
    assert {r.message for r in results} == {"3 messages has been queued for delivery"}
    assert recorded(sandbox) == [(n, text, demo.AAKASH_SENDER) for n in NP]
    assert {(m.account, m.provider, m.segments) for m in sandbox.messages()} == {
        ("aakashsms_v1", "aakashsms_v1", 1)
    }
    one_request(sandbox)
    assert sandbox.balances()["aakashsms_v1"] == FUNDED - 3


def test_aakashsms_v3_post_keeps_ids_networks_and_credits(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    text = "नमस्ते 🙏 smsq v3 test"  # Devanagari and an emoji: UCS-2, one segment
    request = get_adapter("aakashsms_v3").build_request(
        accounts["aakashsms_v3"], Batch(NP, text=text)
    )
    assert request.method == "POST" and demo.AAKASH_TOKEN not in str(request.url)
    results = send(http, accounts["aakashsms_v3"], Batch(NP, text=text))
    assert recorded(sandbox, "aakashsms_v3") == [(n, text, None) for n in NP]  # v3 has no from
    records = sandbox.messages()
    assert [(r.msisdn, r.state, r.provider_message_id, r.credits) for r in results] == [
        (m.msisdn, SENT, m.message_id, float(m.segments)) for m in records
    ]
    assert [r.network for r in results] == ["ntc", "ncell", "ntc"]  # 984 ntc, 980 ncell, 976 ntc
    assert {r.message for r in results} == {"queued"}
    one_request(sandbox)


@pytest.mark.parametrize(
    "text",
    [
        # 80 Bangla letters and spaces: UCS-2 over 70 units, two segments of 67.
        "প্রিয় গ্রাহক, আপনার অর্ডারটি প্রস্তুত। আগামীকাল আপনার ঠিকানায় পৌঁছে দেওয়া হবে। ধন্যবাদ।",
        "Eid Mubarak 🌙 from smsq",
    ],
    ids=["bangla", "emoji"],
)
def test_aamarsms_bulk_spreads_campaign_cost(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], text: str
) -> None:
    results = send(http, accounts["aamarsms"], Batch(BD, text=text))
    assert recorded(sandbox, "aamarsms") == [(n, text, demo.AAMAR_SENDER) for n in BD]
    segments = segment_count(text)
    price = segments * demo.AAMAR_PRICE_PER_SEGMENT_BDT
    assert [(r.msisdn, r.state, r.message) for r in results] == [(n, SENT, "Sent") for n in BD]
    assert [r.credits for r in results] == pytest.approx([price] * 3)
    assert [m.credits for m in sandbox.messages()] == pytest.approx([price] * 3)
    assert sandbox.balances()["aamarsms"] == pytest.approx(FUNDED - 3 * price)
    one_request(sandbox)


def test_aamarsms_bangla_text_is_two_segments() -> None:
    # Guards the parametrized case above: a one-segment text would not test the spread.
    text = "প্রিয় গ্রাহক, আপনার অর্ডারটি প্রস্তুত। আগামীকাল আপনার ঠিকানায় পৌঁছে দেওয়া হবে। ধন্যবাদ।"
    assert segment_count(text) == 2


SALAM = "Salam {}! Sifarişiniz hazırdır, ünvanınıza çatdırılacaq."
HELLO = "Hello {}, your code is {}. It expires in {} minutes."


@pytest.mark.parametrize(
    ("template_id", "params", "texts", "arrays"),
    [
        (1, None, ["Your smsq sandbox test message."] * 3, []),
        (
            2,
            (("Günel",), ("Əli Məmmədov",), ("Aysel 🌷",)),
            [SALAM.format("Günel"), SALAM.format("Əli Məmmədov"), SALAM.format("Aysel 🌷")],
            ["first_parameters"],
        ),
        (
            3,
            (("Leyla", "4821", "5"), ("Rəşad", "0093", "10"), ("Nigar", "7777", "15")),
            [HELLO.format("Leyla", "4821", "5"), HELLO.format("Rəşad", "0093", "10")]
            + [HELLO.format("Nigar", "7777", "15")],
            ["first_parameters", "second_parameters", "third_parameters"],
        ),
    ],
    ids=["template1", "template2-az-emoji", "template3"],
)
def test_smsplus_az_templates_substituted_per_number(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    template_id: int,
    params: tuple[tuple[str, ...], ...] | None,
    texts: list[str],
    arrays: list[str],
) -> None:
    account, batch = accounts["smsplus_az"], Batch(AZ, template_id=template_id, params=params)
    request = get_adapter("smsplus_az").build_request(account, batch)
    assert request.headers["authorization"] == f"Bearer {demo.SMSPLUS_TOKEN}"
    assert sorted(k for k in json.loads(request.content) if k.endswith("_parameters")) == arrays
    results = send(http, account, batch)
    assert [(r.msisdn, r.state, r.message) for r in results] == [
        (n, SENT, "Messages sent successfully.") for n in AZ
    ]
    assert recorded(sandbox, "smsplus_az") == [
        (n, t, demo.SMSPLUS_SENDER) for n, t in zip(AZ, texts, strict=True)
    ]
    assert [m.segments for m in sandbox.messages()] == [segment_count(t) for t in texts]
    one_request(sandbox)


def test_smspresto_post_per_recipient_texts(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    texts = ("Bonjour Rémi, votre colis arrive 📦", "Bonsoir Adrian", "Akwaba Aïcha ✨")
    batch = Batch(CI, texts=texts)
    request = get_adapter("smspresto").build_request(accounts["smspresto"], batch)
    data = json.loads(parse_qs(request.content.decode())["data"][0])
    assert data["to"] == [{"recipient": n, "message": t} for n, t in zip(CI, texts, strict=True)]
    results = send(http, accounts["smspresto"], batch)
    assert [(r.msisdn, r.state, r.message) for r in results] == [
        (n, SENT, "Message sent successfully.") for n in CI
    ]
    assert recorded(sandbox, "smspresto") == [
        (n, t, demo.PRESTO_SENDER) for n, t in zip(CI, texts, strict=True)
    ]
    one_request(sandbox)


def test_smspresto_post_same_text_with_batch_sender(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    text = "Promo -20% 🎁 ce week-end"
    results = send(http, accounts["smspresto"], Batch(CI, text=text, sender="SHOP"))
    assert states(results) == [(n, SENT) for n in CI]
    assert recorded(sandbox, "smspresto") == [(n, text, "SHOP") for n in CI]


# --- GET variants: credentials in the URL the sandbox saw, never in a redacted one ------


def _assert_url_carries_and_redacts(
    response: httpx.Response, account: Account, secret_params: dict[str, str]
) -> str:
    seen = response.request.url  # the URL exactly as it went over the wire
    assert response.request.method == "GET" and response.request.content == b""
    for name, value in secret_params.items():
        assert seen.params[name] == value
    redacted = redact_url(seen)
    assert all(secret not in redacted for secret in account.secret_values())
    redacted_params = httpx.URL(redacted).params
    for name in secret_params:
        assert redacted_params[name] == "***"
    # Everything but the secrets survives redaction, so the log still says what was sent.
    assert {k: v for k, v in redacted_params.items() if k not in secret_params} == {
        k: v for k, v in seen.params.items() if k not in secret_params
    }
    return redacted


def test_aakashsms_v3_get_token_in_url_redacted_in_logs(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = with_options(accounts["aakashsms_v3"], method="GET")
    text = "GET test, with a comma & an ampersand ✓"
    batch = Batch(NP[:2], text=text)
    request = get_adapter("aakashsms_v3").build_request(account, batch)
    install_log_redaction()
    with caplog.at_level(logging.INFO, logger="httpx"):
        response = http.send(request)
    results = get_adapter("aakashsms_v3").parse_response(batch, response)
    assert states(results) == [(n, SENT) for n in NP[:2]]
    assert recorded(sandbox) == [(n, text, None) for n in NP[:2]]
    assert request.url.params["to"] == ",".join(NP[:2])
    redacted = _assert_url_carries_and_redacts(response, account, {"auth_token": demo.AAKASH_TOKEN})
    assert redacted.count("auth_token=***") == 1
    assert "HTTP Request: GET" in caplog.text and demo.AAKASH_TOKEN not in caplog.text


def test_smspresto_get_credentials_in_url_redacted(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = with_options(accounts["smspresto"], method="GET")
    text = "Rappel: RDV demain 9h ⏰ (50% + a=b & c; #1?)"
    # Per-recipient texts that agree fit the GET form.
    batch = Batch(CI, texts=(text,) * 3)
    response = http.send(get_adapter("smspresto").build_request(account, batch))
    results = get_adapter("smspresto").parse_response(batch, response)
    assert states(results) == [(n, SENT) for n in CI]
    assert recorded(sandbox, "smspresto") == [(n, text, demo.PRESTO_SENDER) for n in CI]
    secrets = {"user": demo.PRESTO_API_KEY, "pass": demo.PRESTO_API_PASS}
    _assert_url_carries_and_redacts(response, account, secrets)


def test_smspresto_get_refuses_differing_texts_before_sending(
    sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = with_options(accounts["smspresto"], method="GET")
    with pytest.raises(ValueError, match="one text"):
        get_adapter("smspresto").build_request(account, Batch(CI[:2], texts=("a", "b")))
    assert recorded(sandbox) == []


def test_aamarsms_get_credentials_in_url_redacted(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = accounts["aamarsms"]
    batch = Batch(BD[:2], text="আপনার কোড 1234: 50% + a=b & c; #1?")
    response = http.send(get_adapter("aamarsms").build_request(account, batch))
    assert states(get_adapter("aamarsms").parse_response(batch, response)) == [
        (n, SENT) for n in BD[:2]
    ]
    secrets = {"user": demo.AAMAR_USER, "password": demo.AAMAR_PASSWORD}
    _assert_url_carries_and_redacts(response, account, secrets)
    assert response.request.url.params["to"] == ",".join(BD[:2])
    assert recorded(sandbox) == [(n, batch.text, demo.AAMAR_SENDER) for n in BD[:2]]


# --- per-number failures ----------------------------------------------------------------


def test_aakashsms_v3_invalid_list_and_fail_numbers(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    sandbox.set_faults(fail_numbers=[NP[2]])
    short = "984100000"  # nine digits: genuinely invalid
    batch = Batch((NP[0], short, NP[1], NP[2]), text="v3 sms test")
    results = send(http, accounts["aakashsms_v3"], batch)
    assert [(r.msisdn, r.state, r.code) for r in results] == [
        (NP[0], SENT, None),
        (short, FAILED, "aborted"),
        (NP[1], SENT, None),
        (NP[2], FAILED, "aborted"),
    ]
    records = sandbox.messages()
    assert recorded(sandbox) == [(NP[0], "v3 sms test", None), (NP[1], "v3 sms test", None)]
    assert [results[0].provider_message_id, results[2].provider_message_id] == [
        m.message_id for m in records
    ]
    assert results[1].provider_message_id is None and results[1].credits == 0.0
    assert sandbox.balances()["aakashsms_v3"] == FUNDED - 2


def test_aakashsms_v3_all_invalid_records_nothing(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    batch = Batch(("1234567890", "98410000012"), text="v3 sms test")
    results = send(http, accounts["aakashsms_v3"], batch)
    assert [(r.state, r.code) for r in results] == [(FAILED, "aborted")] * 2
    assert recorded(sandbox) == []


def test_aamarsms_status_zero_and_fail_numbers(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    sandbox.set_faults(fail_numbers=[BD[1]])
    wrong_operator = "8801212345678"  # 8801[0-2]: no Bangladeshi operator
    text = "smsq: আপনার অর্ডার প্রস্তুত"
    results = send(http, accounts["aamarsms"], Batch((BD[0], wrong_operator, BD[1]), text=text))
    assert [(r.msisdn, r.state, r.code, r.message) for r in results] == [
        (BD[0], SENT, None, "Sent"),
        (wrong_operator, FAILED, "0", "Failed"),
        (BD[1], FAILED, "0", "Failed"),
    ]
    assert recorded(sandbox) == [(BD[0], text, demo.AAMAR_SENDER)]
    # The request's cost is charged to the one number sent, none to the failed ones.
    assert results[0].credits == pytest.approx(sandbox.messages()[0].credits)
    assert results[1].credits is None and results[2].credits is None


def test_aamarsms_every_number_failing_is_not_an_error(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    numbers = ("8801212345678", "8801012345678")
    results = send(http, accounts["aamarsms"], Batch(numbers, text="hello"))
    assert [(r.state, r.code) for r in results] == [(FAILED, "0")] * 2
    assert recorded(sandbox) == []
    assert sandbox.balances()["aamarsms"] == FUNDED


def test_aamarsms_short_number_listed_as_failed_is_failed(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    short = "88017123"  # eight digits: the gateway lists it with Status 0 "Failed"
    results = send(http, accounts["aamarsms"], Batch((BD[0], short), text="hello"))
    assert recorded(sandbox) == [(BD[0], "hello", demo.AAMAR_SENDER)]
    assert [(r.msisdn, r.state, r.code) for r in results] == [
        (BD[0], SENT, None),
        (short, FAILED, "0"),
    ]


def test_aamarsms_without_a_sender_omits_from(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    account = accounts["aamarsms"].model_copy(update={"sender": None})
    batch = Batch(BD[:1], text="hello")
    request = get_adapter("aamarsms").build_request(account, batch)
    assert "from" not in request.url.params
    assert states(send(http, account, batch)) == [(BD[0], SENT)]
    assert recorded(sandbox) == [(BD[0], "hello", None)]


def _text_or_template(provider: str, numbers: tuple[str, ...]) -> Batch:
    if provider == "smsplus_az":
        return Batch(numbers, template_id=1)
    return Batch(numbers, text="Refused over one number")


# Gateways that refuse a whole request over one bad number: the adapter says RECIPIENT
# so the worker splits the batch; each good number then goes through on its own.
WHOLE_REQUEST = [
    ("aakashsms_v1", NP, "984100000", "4006", "Invalid phone number"),
    ("smsplus_az", AZ, "994121234567", "121", "The format of the mobile number is incorrect."),
    ("smspresto", CI, "225070", "102", "Invalid recipient"),
]


@pytest.mark.parametrize("how", ["invalid", "fail_numbers"])
@pytest.mark.parametrize(
    ("provider", "good", "invalid", "code", "message"),
    WHOLE_REQUEST,
    ids=[w[0] for w in WHOLE_REQUEST],
)
def test_one_bad_number_refuses_whole_request_then_splits(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    provider: str,
    good: tuple[str, ...],
    invalid: str,
    code: str,
    message: str,
    how: str,
) -> None:
    bad = invalid
    if how == "fail_numbers":
        bad = good[2]  # a well-formed number the gateway refuses anyway
        sandbox.set_faults(fail_numbers=[bad])
    numbers = (good[0], bad, good[1])
    account = accounts[provider]
    error = send_error(http, account, _text_or_template(provider, numbers))
    assert (error.kind, error.code, error.message) == (ErrorKind.RECIPIENT, code, message)
    assert recorded(sandbox) == []
    # Split to singles as the worker does: the good numbers go, the bad one stays refused.
    for number in numbers:
        batch = _text_or_template(provider, (number,))
        if number == bad:
            assert send_error(http, account, batch).kind is ErrorKind.RECIPIENT
        else:
            assert states(send(http, account, batch)) == [(number, SENT)]
    assert [m.msisdn for m in sandbox.messages(account=provider)] == [good[0], good[1]]


# --- refusals: account errors and our own mistakes, with the gateway's words ------------

NEPAL = Batch(NP, text="hello")
NEPAL_BAD_SENDER = Batch(NP, text="hello", sender="99999")
AAMAR = Batch(BD, text="hello")
SMSPLUS = Batch(AZ, template_id=1)
PRESTO = Batch(CI, text="hello")
AAMAR_TOO_LONG = Batch(BD, text="x" * 1001)  # the sandbox's limit is 1000 characters
SMSPLUS_TOO_LONG = Batch(AZ, template_id=2, params=(("x" * 120,),) * 3)  # 175 after substitution
SMSPLUS_TWICE = Batch((AZ[0], AZ[1], AZ[0]), template_id=1)
PRESTO_LONG_SENDER = Batch(CI, text="hello", sender="SENDER-TOO-LONG")  # over 11 characters
PRESTO_SENDER_LIMIT = "The sender's character limit is exceeded"

ACCOUNT, REQUEST = ErrorKind.ACCOUNT, ErrorKind.REQUEST
Refusal = tuple[str, dict[str, str], Batch, ErrorKind, str, str]


def refusal(
    name: str, batch: Batch, code: str, message: str, kind: ErrorKind = ACCOUNT, **creds: str
) -> Refusal:
    """Account ``name`` (credentials overridden by ``creds``) sends ``batch`` and is refused."""
    return (name, creds, batch, kind, code, message)


V3_BAD_TOKEN = "The provided Auth Token is not valid."
V3_NO_TEXT = "The text field is required."
AZ_TOKEN = "The customer`s token was not found."
AZ_UNSIGNED = "The customer`s contract is not signed."
AZ_SENDER = "Sender name not found or not yet approved."
AZ_TEMPLATE = "Message template not found or not yet approved."
AZ_TOO_LONG = "The maximum number of characters in a message is 160."

REFUSALS: list[Refusal] = [
    refusal("aakashsms_v1", NEPAL, "4003", "Invalid AuthToken", auth_token="not-a-token"),
    refusal("aakashsms_v1_no_credits", NEPAL, "4009", "No Credits Available"),
    refusal("aakashsms_v1_low_credits", NEPAL, "4010", "Insufficient Credits"),
    refusal("aakashsms_v1_inactive", NEPAL, "4004", "Account is not active"),
    refusal("aakashsms_v1_expired", NEPAL, "4005", "Account has been expired"),
    refusal("aakashsms_v1_ip_locked", NEPAL, "4001", "Invalid IP Address"),
    refusal("aakashsms_v1", NEPAL_BAD_SENDER, "4007", "Invalid sender"),
    refusal("aakashsms_v1", Batch(NP, text="   "), "4008", "Text cannot be empty", REQUEST),
    refusal("aakashsms_v3", NEPAL, "invalid_token", V3_BAD_TOKEN, auth_token="not-a-token"),
    refusal("aakashsms_v3_no_credits", NEPAL, "no_credit", "No Credits Available"),
    refusal("aakashsms_v3_low_credits", NEPAL, "no_credit", "Insufficient Credits"),
    refusal("aakashsms_v3_inactive", NEPAL, "inactive", "Account is not active"),
    refusal("aakashsms_v3_expired", NEPAL, "inactive", "Account has been expired"),
    refusal("aakashsms_v3", Batch(NP, text="   "), "missing_field", V3_NO_TEXT, REQUEST),
    refusal("aamarsms", AAMAR, "105", "Invalid credential.", password="wrong"),
    refusal("aamarsms", AAMAR, "105", "Invalid credential.", user="nobody"),
    refusal("aamarsms_no_credits", AAMAR, "106", "Your Balance is not sufficient."),
    refusal("aamarsms_reseller_empty", AAMAR, "107", "Reseller balance is not sufficient."),
    refusal("aamarsms", Batch(BD, text="   "), "104", "Message text empty.", REQUEST),
    refusal("aamarsms", AAMAR_TOO_LONG, "108", "Message text is too long.", REQUEST),
    refusal("smsplus_az", SMSPLUS, "101", AZ_TOKEN, token="not-a-token"),
    refusal("smsplus_az_no_credits", SMSPLUS, "119", "SMS balance insufficient."),
    refusal("smsplus_az_unsigned", SMSPLUS, "106", AZ_UNSIGNED),
    refusal("smsplus_az", Batch(AZ, template_id=1, sender="other"), "110", AZ_SENDER),
    refusal("smsplus_az", Batch(AZ, template_id=9), "111", AZ_TEMPLATE),
    refusal("smsplus_az", SMSPLUS_TWICE, "112", "There are duplicate mobile numbers.", REQUEST),
    refusal("smsplus_az", SMSPLUS_TOO_LONG, "120", AZ_TOO_LONG, REQUEST),
    refusal("smspresto", PRESTO, "10", "Invalid API key", api_key="not-a-key"),
    refusal("smspresto", PRESTO, "11", "Invalid password", api_pass="wrong"),
    refusal("smspresto", PRESTO_LONG_SENDER, "101", PRESTO_SENDER_LIMIT, REQUEST),
    refusal("smspresto", Batch(CI, text="   "), "103", "Invalid message", REQUEST),
]


@pytest.mark.parametrize(
    ("name", "credentials", "batch", "kind", "code", "message"),
    REFUSALS,
    ids=[f"{r[0]}-{r[4]}" + ("-creds" if r[1] else "") for r in REFUSALS],
)
def test_refused_with_the_gateways_message_and_nothing_recorded(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    name: str,
    credentials: dict[str, str],
    batch: Batch,
    kind: ErrorKind,
    code: str,
    message: str,
) -> None:
    account = with_credentials(accounts[name], **credentials)
    balances = sandbox.balances()
    error = send_error(http, account, batch)
    assert (error.kind, error.code, error.message) == (kind, code, message)
    assert not error.retryable
    assert recorded(sandbox) == []
    assert sandbox.balances() == balances


def test_smspresto_out_of_stock_is_an_account_error(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    error = send_error(http, accounts["smspresto_no_credits"], PRESTO)
    assert (error.kind, error.message) == (ErrorKind.ACCOUNT, "Insufficient stock.")
    assert recorded(sandbox) == []


def test_smspresto_out_of_stock_records_nothing(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account]
) -> None:
    # Whatever the adapter makes of it, the gateway took nothing,
    # and the adapter does not claim that it did.
    try:
        results: list[NumberResult] = send(http, accounts["smspresto_no_credits"], PRESTO)
    except GatewayError as error:
        assert error.kind is not ErrorKind.AMBIGUOUS
    else:
        # Today: the undocumented status 12 fails every number, its code and words kept.
        assert {(r.state, r.code, r.message) for r in results} == {
            (FAILED, "12", "Insufficient stock.")
        }
    assert recorded(sandbox) == []


# --- faults ------------------------------------------------------------------------------

PROVIDERS = list(GATEWAYS)


def _expect_recorded(sandbox: SandboxClient, provider: str) -> None:
    rows: list[Row] = list(GATEWAYS[provider].expected)
    assert recorded(sandbox, provider) == rows
    assert recorded(sandbox) == rows  # and no other account's


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("kind", "status"), [("http_503", 503), ("http_500", 500)])
def test_server_errors_before_accept_are_retryable(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    provider: str,
    kind: str,
    status: int,
) -> None:
    gateway, account = GATEWAYS[provider], accounts[provider]
    sandbox.set_faults(next={kind: 1})
    error = send_error(http, account, gateway.batch)
    assert (error.kind, error.http_status, error.throttled) == (ErrorKind.RETRYABLE, status, False)
    assert recorded(sandbox) == []
    assert sandbox.balances()[provider] == FUNDED
    # Retrying is safe: the same request now goes through, once.
    assert states(send(http, account, gateway.batch)) == [(n, SENT) for n in gateway.batch.msisdns]
    _expect_recorded(sandbox, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_429_is_retryable_and_throttled(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], provider: str
) -> None:
    sandbox.set_faults(next={"http_429": 1})
    error = send_error(http, accounts[provider], GATEWAYS[provider].batch)
    assert (error.kind, error.http_status, error.throttled) == (ErrorKind.RETRYABLE, 429, True)
    assert recorded(sandbox) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_gateway_error_is_retryable(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], provider: str
) -> None:
    sandbox.set_faults(account=provider, next={"gateway_error": 1})
    error = send_error(http, accounts[provider], GATEWAYS[provider].batch)
    assert error.kind is ErrorKind.RETRYABLE
    if provider == "smsplus_az":  # the one gateway with a documented transient code
        assert (error.code, error.http_status) == ("122", 200)
        assert error.message == "There was an error sending the message."
    else:
        assert (error.code, error.http_status) == (None, 503)
    assert recorded(sandbox) == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_504_after_accept_is_ambiguous_and_recorded(
    http: httpx.Client, sandbox: SandboxClient, accounts: dict[str, Account], provider: str
) -> None:
    sandbox.set_faults(next={"http_504": 1})
    error = send_error(http, accounts[provider], GATEWAYS[provider].batch)
    assert (error.kind, error.http_status) == (ErrorKind.AMBIGUOUS, 504)
    assert not error.retryable
    _expect_recorded(sandbox, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_after_accept_is_ambiguous_and_recorded(
    sandbox: SandboxClient, accounts: dict[str, Account], provider: str
) -> None:
    sandbox.set_faults(hold_s=0.6, next={"timeout_after_accept": 1})
    account, batch = accounts[provider], GATEWAYS[provider].batch
    request = get_adapter(provider).build_request(account, batch)
    with httpx.Client(timeout=httpx.Timeout(5.0, read=0.15)) as short:
        with pytest.raises(httpx.ReadTimeout) as info:
            short.send(request)
    error = classify_transport_error(info.value)
    assert error.kind is ErrorKind.AMBIGUOUS and "ReadTimeout" in error.message
    _expect_recorded(sandbox, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_dropped_connection_after_accept_is_ambiguous_and_recorded(
    sandbox: SandboxClient, accounts: dict[str, Account], provider: str
) -> None:
    sandbox.set_faults(next={"drop_connection_after_accept": 1})
    with httpx.Client(timeout=2.0) as client:
        error = send_error(client, accounts[provider], GATEWAYS[provider].batch)
    assert error.kind is ErrorKind.AMBIGUOUS
    _expect_recorded(sandbox, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("kind", "accepted"), [("garbage_before_accept", False), ("garbage_after_accept", True)]
)
def test_garbage_is_classified_never_raised_raw(
    http: httpx.Client,
    sandbox: SandboxClient,
    accounts: dict[str, Account],
    provider: str,
    kind: str,
    accepted: bool,
) -> None:
    sandbox.set_faults(next={kind: 1})
    # send_error fails the test on any exception other than GatewayError.
    error = send_error(http, accounts[provider], GATEWAYS[provider].batch)
    # A 200 page we cannot read may follow an accept: the client cannot tell, so ambiguous.
    assert (error.kind, error.http_status) == (ErrorKind.AMBIGUOUS, 200)
    if accepted:
        _expect_recorded(sandbox, provider)
    else:
        assert recorded(sandbox) == []
