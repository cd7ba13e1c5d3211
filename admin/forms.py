"""Console forms (Flask-WTF): every form carries a CSRF token; labels are translated."""

from __future__ import annotations

import uuid

from flask import flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from foundation.errors import InvalidAmount
from foundation.reference import townships
from foundation.ubn import is_valid_ubn
from ledger.money import check_whole_units, parse_amount
from matching.instance import parse_share
from web.request_guard import unstorable_form_fields


class ConsoleForm(FlaskForm):
    """Every console form: a field that held a NUL or a lone surrogate is in error.

    The request guard (web/request_guard.py) does not refuse a page's form post for such a
    character: it removes it, names the field and hands the post to the view, so that the
    reader gets this form again with the error next to that field, in their language,
    instead of a bare 400 page. Validation then fails whatever else the form thinks, and
    the view stores nothing (the guard also stops the request from committing).
    """

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        names = unstorable_form_fields()
        if not names:
            return valid
        shown = {f.name: f for f in self if f.type not in ("HiddenField", "CSRFTokenField")}
        for name in names:
            field = shown.get(name)
            if field is not None:
                field.errors = [*list(field.errors or []), str(UNSTORABLE_MESSAGE)]
            else:  # a hidden or hand-written input: said on top of the form, by name
                flash(
                    _(
                        "The field “%(field)s” held a character that cannot be stored (NUL or "
                        "an unpaired surrogate). Nothing was saved.",
                        field=name,
                    ),
                    "error",
                )
        return False


UNSTORABLE_MESSAGE = _l(
    "This field held a character that cannot be stored (NUL or an unpaired surrogate); it "
    "was removed. Nothing was saved: check the text and send it again."
)


class WholeNumberField(IntegerField):
    """An IntegerField that says one thing about text that is no number ("Not a valid
    integer."), instead of that and then its range or required message as well, for the
    same field. Its validators run only on a number."""

    def pre_validate(self, form):
        if not self.process_errors:
            return
        if self.raw_data and self.raw_data[0].strip():
            raise StopValidation()  # text that is no number: that alone is said
        # Left blank: not "no number" but what blank means to this field, which its
        # validators say (Optional lets it through, InputRequired asks for it)
        self.errors.clear()


_KEY = Regexp(r"^[A-Za-z0-9-]{8,64}$")


def new_key() -> str:
    """A fresh idempotency key for a money-moving form: a double submit posts once."""
    return uuid.uuid4().hex


class ActionForm(ConsoleForm):
    """A button that changes something: only the CSRF token."""


class MoneyForm(ConsoleForm):
    """A money-moving form: the idempotency key travels with it."""

    key = HiddenField(validators=[DataRequired(), _KEY], default=new_key)


class SignInForm(ConsoleForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class TwoFactorForm(ConsoleForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class LanguageForm(ConsoleForm):
    lang = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class NewPasswordForm(ConsoleForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=10, max=1024)]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ProposeForm(MoneyForm):
    project_id = SelectField(_l("Project"), coerce=int, validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice("grant", _l("Grant")), SelectChoice("investment", _l("Investment"))],
        validators=[DataRequired()],
    )
    amount = StringField(_l("Amount (NT$)"), validators=[DataRequired(), Length(max=30)])
    funding = SelectField(_l("Funding"), validators=[Optional()])
    purpose = TextAreaField(_l("Purpose"), validators=[DataRequired(), Length(max=2000)])


class PayForm(MoneyForm):
    paid_on = DateField(_l("Paid on"), validators=[Optional()])


class VoidForm(MoneyForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


# Dates: InputRequired, not DataRequired, which would replace "not a valid date" with
# "required" for a date that was typed but is wrong


class ClosePeriodForm(ConsoleForm):
    end_date = DateField(_l("Close the books through"), validators=[InputRequired()])
    assertions = TextAreaField(
        _l("Balance assertions (one per line: account code = amount)"),
        validators=[Optional(), Length(max=10000)],
    )
    confirm = BooleanField(_l("I have reconciled the period"), validators=[DataRequired()])


class RevenueForm(MoneyForm):
    period_start = DateField(_l("Period from"), validators=[InputRequired()])
    period_end = DateField(_l("Period to"), validators=[InputRequired()])
    revenue = StringField(_l("Revenue (NT$)"), validators=[DataRequired(), Length(max=30)])


class DeclineForm(ConsoleForm):
    reason = TextAreaField(
        _l("Why do you decline?"),
        validators=[DataRequired(message=_l("Say why you decline.")), Length(max=2000)],
    )


def _share_at_most_whole(form, field) -> None:
    """A share above 100% is refused here, in words: the matcher's own check would reach the
    page only as "the format is wrong"."""
    # The matcher's own reading: bounded whatever was typed ("1e999999999" is no share,
    # where Fraction would compute that power of ten for minutes)
    share = parse_share("".join((field.data or "").split()))
    if share is None:
        return  # not a share at all: the pattern and the matcher say so
    if share > 1:
        raise ValidationError(_l("A share is at most 100%, such as 30% or 0.3."))


class MatchRunForm(ConsoleForm):
    k = WholeNumberField(
        _l("Candidates kept per request (k)"),
        default=5,
        # InputRequired: 0 is typed, and out of range, not missing
        validators=[InputRequired(), NumberRange(min=1, max=100)],
    )
    min_priority_share = StringField(
        _l("Minimum share in priority areas"),
        validators=[
            Optional(),
            Regexp(
                r"^\s*[0-9./]+\s*%?\s*$",
                message=_l("Write a share such as 30% or 0.3."),
            ),
            Length(max=20),
            _share_at_most_whole,
        ],
    )
    priority_weight = WholeNumberField(
        _l("Priority-area weight (points)"),
        validators=[Optional(), NumberRange(min=0, max=10000)],
    )


class ConfirmLineForm(ConsoleForm):
    targets = HiddenField(
        validators=[Optional(), Regexp(r"^[a-z_]{1,20}:[0-9]{1,18}( [a-z_]{1,20}:[0-9]{1,18})*$")]
    )
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=1000)])


class LineReasonForm(ConsoleForm):
    reason = StringField(
        _l("Reason"), validators=[DataRequired(message=_l("Say why.")), Length(max=1000)]
    )


class BankUploadForm(ConsoleForm):
    statement = FileField(
        _l("Bank statement (CSV)"),
        validators=[FileRequired(message=_l("Choose the CSV file exported from the bank."))],
    )
    mapping = SelectField(
        _l("Column layout"),
        choices=[
            SelectChoice("tw_bank", _l("Taiwanese bank export")),
            SelectChoice("generic", _l("Generic (date, amount, balance)")),
        ],
        validators=[DataRequired()],
    )
    encoding = SelectField(
        _l("Encoding"),
        choices=[
            SelectChoice("auto", _l("Detect")),
            SelectChoice("utf-8", "UTF-8"),
            SelectChoice("big5", "Big5"),
        ],
        validators=[DataRequired()],
    )
    skip_bad_lines = BooleanField(_l("Skip bad lines and import the rest"))


def _valid_ubn(_form, field) -> None:
    value = (field.data or "").strip()
    if not (len(value) == 8 and value.isascii() and value.isdigit()):
        raise ValidationError(_l("A Unified Business Number is 8 digits."))
    if not is_valid_ubn(value):
        raise ValidationError(_l("This is not a valid Unified Business Number (check digit)."))


def _known_town(_form, field) -> None:
    if field.data not in townships():
        raise ValidationError(_l("Choose a township from the list."))


class RegistrationForm(ConsoleForm):
    """A company or local business registers itself and its first member (unverified)."""

    kind = SelectField(
        _l("We are"),
        choices=[
            SelectChoice("company", _l("A company")),
            SelectChoice("business", _l("A local business or creation team")),
        ],
        validators=[DataRequired()],
    )
    name = StringField(
        _l("Organisation name"),
        validators=[DataRequired(message=_l("Enter the organisation's name.")), Length(max=200)],
    )
    name_en = StringField(_l("English name (optional)"), validators=[Optional(), Length(max=200)])
    ubn = StringField(
        _l("Unified Business Number (統一編號)"),
        validators=[DataRequired(message=_l("Enter the 8-digit number.")), _valid_ubn],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
    )
    town_code = SelectField(
        _l("Township"),
        validators=[DataRequired(message=_l("Choose a township from the list.")), _known_town],
        validate_choice=False,
    )
    contact_name = StringField(
        _l("Your name"),
        validators=[DataRequired(message=_l("Enter your name.")), Length(max=200)],
    )
    email = EmailField(
        _l("Email"),
        validators=[
            DataRequired(message=_l("Enter your email address.")),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("This is not an email address.")),
            Length(max=254),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Choose a password.")), Length(max=1024)],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[
            DataRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The passwords differ.")),
        ],
    )


def unique_ids(form: FlaskForm, suffix: str) -> FlaskForm:
    """Give the fields of one of several same forms on a page their own ids (and labels)."""
    for f in form:
        if f.type not in ("CSRFTokenField", "HiddenField"):
            f.id = f"{f.name}-{suffix}"
            f.label.field_id = f.id
    return form


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def _whole_nt_dollars(form, field) -> None:
    """An amount as people write it (``5,000``, ``NT$5,000``), whole NT$ only."""

    text = (field.data or "").strip()
    field.minor = None
    if not text:
        return
    try:
        minor = parse_amount(text, "TWD")
        check_whole_units(minor, "TWD")
    except InvalidAmount:
        raise ValidationError(_l("Enter a whole NT$ amount, e.g. 5,000.")) from None
    if minor < 0:
        raise ValidationError(_l("Enter the amount without a sign."))
    field.minor = minor


class QueueFilterForm(ConsoleForm):
    """The reconciliation queue's filters: a GET form (nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    # Unknown values fall back to the default (a stale bookmark is not an error)
    status = SelectField(_l("Status"), default="open", validate_choice=False)
    source = SelectField(
        _l("Source"),
        choices=[
            SelectChoice("", _l("Bank and Stripe")),
            SelectChoice("bank", _l("Bank")),
            SelectChoice("stripe", _l("Stripe")),
        ],
        default="",
        validate_choice=False,
    )
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    amount_min = StringField(_l("Amount from (NT$)"), validators=[_whole_nt_dollars])
    amount_max = StringField(_l("Amount up to (NT$)"), validators=[_whole_nt_dollars])
    size = SelectField(
        _l("Lines per page"),
        choices=[SelectChoice(str(n), str(n)) for n in (25, 50, 100, 200)],
        default="50",
        validate_choice=False,
    )

    def validate_end(self, field) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError(_l("The end date is before the start date."))

    def validate_amount_max(self, field) -> None:
        low = getattr(self.amount_min, "minor", None)
        high = getattr(field, "minor", None)
        if low is not None and high is not None and high < low:
            raise ValidationError(_l("The largest amount is below the smallest."))


class CandidateSearchForm(ConsoleForm):
    """Search the ledger items a line could be matched to (GET)."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search by name, amount, virtual account or reference"),
        validators=[Optional(), Length(max=100)],
    )
