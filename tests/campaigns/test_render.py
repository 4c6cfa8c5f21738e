"""Placeholders: parsing, rendering, missing values, SMSPlus.az templates."""

from __future__ import annotations

import pytest

from campaigns import render
from campaigns.errors import InvalidTemplate, MissingPlaceholder
from providers.registry import get_adapter
from tests.campaigns.helpers import azerbaijan

AZ_LIMITS = get_adapter("smsplus_az").limits


@pytest.mark.parametrize(
    ("text", "names", "values", "rendered"),
    [
        ("Hello", (), (), "Hello"),
        ("Hi {name}!", ("name",), ("Ram",), "Hi Ram!"),
        ("{a}{b}{a}", ("a", "b"), ("x", "y"), "xyx"),
        ("Pay {amount} by {date}, {name}", ("amount", "date", "name"), ("5", "1 May", "Sita"),
         "Pay 5 by 1 May, Sita"),
        ("JSON {} and { name } and {a-b} stay", (), (), "JSON {} and { name } and {a-b} stay"),
        ("নমস্কার {name}", ("name",), ("রাম",), "নমস্কার রাম"),
    ],
)  # fmt: skip
def test_parse_and_render(
    text: str, names: tuple[str, ...], values: tuple[str, ...], rendered: str
) -> None:
    template = render.parse(text)
    assert template.names == names
    assert template.is_plain is (not names)
    assert template.render(values) == rendered


def test_fixed_text_leaves_placeholders_out() -> None:
    assert render.parse("Dear {name}, your code is {code}.").fixed_text == "Dear , your code is ."


def test_values_are_stripped_and_aligned() -> None:
    template = render.parse("{b} {a}")
    assert template.values_for(3, (" x ", "y")) == ("x", "y")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("Ram", ""), 'row 17: column "code" is empty (placeholder {code} in text)'),
        (("Ram", "   "), 'row 17: column "code" is empty (placeholder {code} in text)'),
        (("Ram", None), 'row 17: column "code" has no value (placeholder {code} in text)'),
        (None, 'row 17: column "name" has no value (placeholder {name} in text)'),
    ],
)
def test_missing_value_names_row_and_field(
    values: tuple[str | None, ...] | None, message: str
) -> None:
    template = render.parse("Hi {name}, code {code}")
    with pytest.raises(MissingPlaceholder) as caught:
        template.values_for(17, values)
    assert str(caught.value) == message


def test_template_for_uses_the_accounts_template() -> None:
    template = render.template_for(azerbaijan(), 7, AZ_LIMITS)
    assert template.names == ("name", "code")
    assert template.field == "template 7"
    assert template.render(("Aysel", "123")).startswith("Salam Aysel, kodunuz 123.")


def test_unknown_template_names_the_id_and_the_known_ones() -> None:
    with pytest.raises(InvalidTemplate, match=r"template_id 99 .*known: 7, 8, 9, 10"):
        render.template_for(azerbaijan(), 99, AZ_LIMITS)


def test_template_with_more_than_three_parameters_is_refused() -> None:
    with pytest.raises(InvalidTemplate, match=r"template 9 has 4 placeholders .*at most 3"):
        render.template_for(azerbaijan(), 9, AZ_LIMITS)


@pytest.mark.parametrize(
    ("text", "values", "filled", "rendered"),
    [
        ("Hi {name|friend}!", (None,), ("friend",), "Hi friend!"),
        ("Hi {name|friend}!", ("  ",), ("friend",), "Hi friend!"),
        ("Hi {name|friend}!", (" Sita ",), ("Sita",), "Hi Sita!"),
        ("Hi {name|dear customer}, {name}", (None,), ("dear customer",),
         "Hi dear customer, dear customer"),  # a name's default holds wherever it appears
        ("Hi{name|}.", ("",), ("",), "Hi."),  # an empty default leaves the value out
        ("{a|x} {b}", (None, "y"), ("x", "y"), "x y"),
        ("{a|x-y z}", (None,), ("x-y z",), "x-y z"),
    ],
)  # fmt: skip
def test_defaults_fill_missing_values(
    text: str, values: tuple[str | None, ...], filled: tuple[str, ...], rendered: str
) -> None:
    template = render.parse(text)
    assert template.fill(values) == filled
    assert template.render(template.fill(values)) == rendered


def test_a_default_does_not_hide_a_missing_value_elsewhere() -> None:
    template = render.parse("{name|friend}, code {code}")
    with pytest.raises(MissingPlaceholder, match=r'column "code" has no value'):
        template.fill((None, None))
    assert render.parse("{a|}{b}").fixed_text == ""  # defaults are not fixed text


def test_two_defaults_for_one_name_are_refused() -> None:
    with pytest.raises(InvalidTemplate, match=r"placeholder \{name\} has two defaults"):
        render.parse("{name|friend} {name|pal}")
    assert render.parse("{name|friend} {name|friend} {name}").defaults == ("friend",)


def test_an_smsplus_template_with_a_default_is_one_parameter() -> None:
    from providers import Batch
    from providers.smsplus_az import template_param_count

    account = azerbaijan(templates={11: "Salam {name|dostum}, kod {code}"})
    template = render.template_for(account, 11, AZ_LIMITS)
    assert template.names == ("name", "code") and template.defaults == ("dostum", None)
    batch = Batch(msisdns=("994501234567",), template_id=11, params=(("dostum", "1"),))
    assert template_param_count(account, batch) == 2
