"""Filling ``{name}`` placeholders of a campaign text from each recipient's values.

A placeholder is ``{`` + word characters (letters of any script, digits, underscore) + ``}``,
or ``{name|default}``: a row whose value is missing or blank gets ``default`` (as written,
spaces included; ``{name|}`` leaves it out). A name's default holds wherever the name
appears; two different defaults for one name are refused. It is the same rule as the
SMSPlus.az adapter uses to count a template's parameters (``providers.PLACEHOLDER_RE``).
Every other brace is literal text: ``{}``, ``{ name }``, ``{a-b}`` and a lone ``{`` are sent
as written, so most bracketed text needs no escaping. A text cannot send a literal
``{name}``; that is the one thing this syntax gives up.

A row without a value (and no default) is an error of that row: ``fill`` raises
MissingPlaceholder with the reason, and planning records the row ``rejected`` with it (or,
for a ``strict`` campaign, fails the submission, naming the row).

SMSPlus.az sends an approved template id with up to three parameter arrays instead of a text:
``template_for`` takes the template text from ``account.templates`` and its placeholders, in
order of first appearance, are the first, second and third parameters. The rendered text is
still what planning measures and checks against the gateway's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from campaigns.errors import InvalidTemplate, MissingPlaceholder
from providers import PLACEHOLDER_RE, Account, Limits


@dataclass(frozen=True, slots=True)
class Template:
    """A campaign text split into literal parts and placeholders, ready to render fast.

    ``names`` are the distinct placeholders in order of first appearance; ``values`` given to
    ``render`` are aligned with them, and so are ``defaults`` (None: the name has none).
    ``field`` names the text in error messages ("text" or "template 7").
    """

    source: str
    names: tuple[str, ...]
    field: str
    defaults: tuple[str | None, ...]
    # literal, name index, literal, name index, ..., literal (always odd length)
    _literals: tuple[str, ...]
    _slots: tuple[int, ...]

    @property
    def is_plain(self) -> bool:
        """True when the text has no placeholder: every recipient gets ``source`` as is."""
        return not self.names

    @property
    def fixed_text(self) -> str:
        """The text with its placeholders left out: a lower bound of every rendered text."""
        return "".join(self._literals)

    def render(self, values: Sequence[str]) -> str:
        """The text with each placeholder replaced by its value (aligned with ``names``)."""
        if not self._slots:
            return self.source
        lits, slots = self._literals, self._slots
        out = [lits[0]]
        for i, slot in enumerate(slots):
            out.append(values[slot])
            out.append(lits[i + 1])
        return "".join(out)

    def values_for(self, row_no: int, values: Sequence[str | None] | None) -> tuple[str, ...]:
        """``fill``, with the row named in the error: MissingPlaceholder "row 17: ..."."""
        try:
            return self.fill(values)
        except MissingPlaceholder as exc:
            raise MissingPlaceholder(f"row {row_no}: {exc}") from None

    def fill(self, values: Sequence[str | None] | None) -> tuple[str, ...]:
        """A row's placeholder values (aligned with ``names``), stripped, defaults filled in.

        Raises MissingPlaceholder saying which column is empty or absent (and has no default)
        or holds a NUL character.
        """
        if values is None:
            values = (None,) * len(self.names)
        out: list[str] = []
        for name, value, default in zip(self.names, values, self.defaults, strict=True):
            stripped = value.strip() if value is not None else ""
            if not stripped:
                if default is not None:
                    out.append(default)
                    continue
                what = "is empty" if value is not None else "has no value"
                raise MissingPlaceholder(
                    f'column "{name}" {what} (placeholder {{{name}}} in {self.field})'
                )
            if "\x00" in stripped:  # PostgreSQL text cannot hold it, and no handset shows it
                raise MissingPlaceholder(
                    f'column "{name}" contains a NUL character (placeholder {{{name}}} in '
                    f"{self.field})"
                )
            out.append(stripped)
        return tuple(out)


def parse(text: str, field: str = "text") -> Template:
    """Split ``text`` into literals and placeholders (see the module docstring for the syntax).

    Raises InvalidTemplate when one name is given two different defaults.
    """
    pieces = PLACEHOLDER_RE.split(text)  # literal, name, default, literal, ..., literal
    slot_names, slot_defaults = pieces[1::3], pieces[2::3]
    names = tuple(dict.fromkeys(slot_names))
    index = {name: i for i, name in enumerate(names)}
    defaults: dict[str, str] = {}
    for name, default in zip(slot_names, slot_defaults, strict=True):
        if default is None:
            continue
        if defaults.setdefault(name, default) != default:
            raise InvalidTemplate(
                f"{field}: placeholder {{{name}}} has two defaults, {defaults[name]!r} and "
                f"{default!r}: give one"
            )
    return Template(
        source=text,
        names=names,
        field=field,
        defaults=tuple(defaults.get(name) for name in names),
        _literals=tuple(pieces[0::3]),
        _slots=tuple(index[name] for name in slot_names),
    )


def template_for(account: Account, template_id: int, limits: Limits) -> Template:
    """The approved template ``template_id`` of ``account``, checked against the gateway.

    Raises InvalidTemplate when the account lists no such template or when it has more
    placeholders than the gateway has parameter arrays.
    """
    source = account.templates.get(template_id)
    if source is None:
        known = ", ".join(str(t) for t in sorted(account.templates)) or "none"
        raise InvalidTemplate(
            f"template_id {template_id} is not among account {account.name!r}'s templates "
            f"(known: {known})"
        )
    template = parse(source, field=f"template {template_id}")
    if len(template.names) > limits.template_params:
        shown = ", ".join("{" + n + "}" for n in template.names)
        raise InvalidTemplate(
            f"template {template_id} has {len(template.names)} placeholders ({shown}); "
            f"the gateway takes at most {limits.template_params} parameters"
        )
    return template
