"""Forms of the self-service pages: profiles, projects, partner requests and offers.

Each carries a CSRF token (Flask-WTF). Townships, counties and industries are chosen by
name; the stored values stay the reference codes. Amounts are typed in whole NT$ (``1,200``
or ``NT$1,200``) and become minor units only in ``nt_dollars``.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from admin import messages
from admin.forms import ConsoleForm, WholeNumberField, _known_town
from foundation.errors import InvalidAmount
from foundation.reference import counties, industries
from ledger.money import parse_amount
from matching.problem import KINDS, MAX_MONEY, MOTIVES, REGIONS

#: Whole NT$ as people type them: 1200, 1,200, NT$1,200 (".00" is tolerated, cents are not)
_NT_DOLLARS = re.compile(r"^\s*(?:NT\$|\$)?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.0{1,2})?\s*$")
_CENTS = re.compile(r"^\s*(?:NT\$|\$)?\s*[\d,]+\.\d+\s*$")


def kind_choices() -> list[SelectChoice]:
    names = {
        "product_development": _l("Product development"),
        "investment": _l("Investment"),
        "sponsorship": _l("Sponsorship"),
    }
    return [SelectChoice(k, names[k]) for k in KINDS]


def region_choices() -> list[SelectChoice]:
    names = {
        "north": _l("Northern Taiwan"),
        "central": _l("Central Taiwan"),
        "south": _l("Southern Taiwan"),
        "east": _l("Eastern Taiwan"),
        "islands": _l("Outlying islands"),
    }
    return [SelectChoice(r, names[r]) for r in REGIONS]


def motive_choices() -> list[SelectChoice]:
    names = {
        "brand": _l("Brand"),
        "tax": _l("Tax"),
        "innovation": _l("Innovation"),
        "relationship": _l("Giving back to our home county"),
    }
    return [SelectChoice(m, names[m]) for m in MOTIVES]


def county_choices(english: bool) -> list[tuple[str, str]]:
    """Counties by name in the reader's language, in code order."""
    return [(code, names[1] if english else names[0]) for code, names in sorted(counties().items())]


def industry_groups(max_level: int = 4) -> dict[str, list[tuple[str, str]]]:
    """DGBAS industries grouped by section (``<optgroup>``), each shown by its name and
    indented by level; ``max_level`` 2 keeps the sections and divisions only."""
    groups: dict[str, list[tuple[str, str]]] = {}
    section = ""
    for code, ind in industries().items():
        if ind.level > max_level:
            continue
        if ind.level == 1:
            section = f"{code} {ind.name}"
        indent = "\u3000" * (ind.level - 1)
        groups.setdefault(section, []).append((code, f"{indent}{ind.name}"))
    return groups


def industry_name(code: str | None) -> str:
    ind = industries().get(code or "")
    return ind.name if ind else (code or "—")


def _known_industry(_form, field) -> None:
    if field.data not in industries():
        raise ValidationError(_l("Choose an industry from the list."))


def _nt_dollars(_form, field) -> None:
    text = (field.data or "").strip()
    if not text:
        return
    if _CENTS.match(text) and not _NT_DOLLARS.match(text):
        raise ValidationError(_l("Amounts in NT$ are whole dollars."))
    if not _NT_DOLLARS.match(text):
        raise ValidationError(_l("Write the amount in NT$, like 120,000."))
    # The matcher's own limit (NT$100 billion), said here in words: its check reaches the
    # page only as "the format is wrong"
    try:
        amount = nt_dollars(field)
    except InvalidAmount as error:  # beyond what money holds: said next to the field too
        raise ValidationError(messages.message(error)) from None
    if amount is not None and amount > MAX_MONEY:
        raise ValidationError(_l("The amount is too large."))


def nt_dollars(field) -> int | None:
    """A validated whole-NT$ field as minor units (None when left empty)."""
    text = (field.data or "").strip()
    return parse_amount(text, "TWD") if text else None


def _words(text: str | None) -> list[str]:
    """Tags or goals typed as a list: commas (also 、，) or new lines separate them."""
    parts = re.split(r"[,，、\n]", text or "")
    seen: list[str] = []
    for p in (p.strip() for p in parts):
        if p and p not in seen:
            seen.append(p[:40])
    return seen[:50]


def words(field) -> list[str]:
    return _words(field.data)


class MultiCheckboxField(SelectMultipleField):
    """Several choices as a list of checkboxes (readable on a phone, no script needed)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ProfileForm(ConsoleForm):
    name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(message=_l("Enter the organisation's name.")), Length(max=200)],
    )
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=200)])
    town_code = SelectField(
        _l("Township"),
        validators=[DataRequired(message=_l("Choose a township from the list.")), _known_town],
        validate_choice=False,
    )
    #: The version the page showed: a profile changed meanwhile is not overwritten
    version = HiddenField()


class ProjectForm(ConsoleForm):
    name = StringField(
        _l("Project name"),
        validators=[DataRequired(message=_l("Enter the project's name.")), Length(max=200)],
    )
    town_code = SelectField(
        _l("Township"),
        validators=[DataRequired(message=_l("Choose a township from the list.")), _known_town],
        validate_choice=False,
    )


class RequestForm(ConsoleForm):
    """A local business asks for a partner."""

    kind = SelectField(
        _l("Kind of partnership"),
        choices=kind_choices,
        validators=[DataRequired(message=_l("Choose a kind of partnership."))],
    )
    amount = StringField(
        _l("Amount sought (NT$)"),
        validators=[DataRequired(message=_l("Enter the amount in NT$.")), _nt_dollars],
    )
    industry = SelectField(
        _l("Industry"),
        validators=[DataRequired(message=_l("Choose an industry from the list.")), _known_industry],
        validate_choice=False,
    )
    town_code = SelectField(
        _l("Township where the work happens"),
        validators=[DataRequired(message=_l("Choose a township from the list.")), _known_town],
        validate_choice=False,
    )
    tags = StringField(
        _l("Themes and goals (separated by commas)"), validators=[Optional(), Length(max=1000)]
    )
    description = TextAreaField(
        _l("What you need and why"), validators=[Optional(), Length(max=2000)]
    )
    capacity = WholeNumberField(
        _l("How many partners you want"),
        default=1,
        validators=[
            DataRequired(message=_l("Enter a number from 1 to 100.")),
            NumberRange(min=1, max=100, message=_l("Enter a number from 1 to 100.")),
        ],
    )
    active = BooleanField(_l("Open to proposals"), default=True)


class OfferForm(ConsoleForm):
    """What a company offers local businesses."""

    kinds = MultiCheckboxField(
        _l("Kinds of partnership"),
        choices=kind_choices,
        validators=[DataRequired(message=_l("Choose at least one kind of partnership."))],
    )
    budget = StringField(
        _l("Whole budget, shared by the partners (NT$, optional)"),
        validators=[Optional(), _nt_dollars],
    )
    industries = SelectMultipleField(
        _l("Industries you favour (none: any)"), validators=[Optional()], validate_choice=False
    )
    regions = MultiCheckboxField(
        _l("Regions you favour (none: anywhere)"), choices=region_choices, validators=[Optional()]
    )
    counties = MultiCheckboxField(
        _l("Counties you favour"), validators=[Optional()], validate_choice=False
    )
    home_county = SelectField(_l("Home county"), validators=[Optional()], validate_choice=False)
    motives = MultiCheckboxField(
        _l("Why you take part"), choices=motive_choices, validators=[Optional()]
    )
    goals = StringField(
        _l("ESG or SDG goals (separated by commas)"), validators=[Optional(), Length(max=1000)]
    )
    capacity = WholeNumberField(
        _l("How many partners you want"),
        default=1,
        validators=[
            DataRequired(message=_l("Enter a number from 1 to 1000.")),
            NumberRange(min=1, max=1000, message=_l("Enter a number from 1 to 1000.")),
        ],
    )
    active = BooleanField(_l("Open to proposals"), default=True)

    def validate_industries(self, field) -> None:
        if any(code not in industries() for code in field.data or []):
            raise ValidationError(_l("Choose an industry from the list."))

    def validate_counties(self, field) -> None:
        if any(code not in counties() for code in field.data or []):
            raise ValidationError(_l("Choose counties from the list."))

    def validate_home_county(self, field) -> None:
        if field.data and field.data not in counties():
            raise ValidationError(_l("Choose counties from the list."))


class ConfirmAnswerForm(ConsoleForm):
    """The confirmation step of accepting a proposal (no script needed)."""

    #: Sent only by the confirmation page's own form (rendered with value "yes")
    confirmed = HiddenField()


class ConfirmDeclineForm(ConfirmAnswerForm):
    reason = TextAreaField(
        _l("Why do you decline?"),
        validators=[DataRequired(message=_l("Say why you decline.")), Length(max=2000)],
    )
