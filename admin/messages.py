"""Domain errors in the reader's language.

``ledger`` and ``matching`` raise English errors with a stable ``code``, a ``detail`` and
``extra`` parameters (ledger/errors.py); the API hands them on as they are. The console
shows them translated, next to the field they name:

* ``CATALOG`` maps each code to its translations. A code that covers several situations
  (``invalid_state``, ``validation_error`` ...) lists one entry per situation, recognised by
  the ``case`` in ``extra`` or else by the shape of the English detail; the parameters come
  from ``extra``, completed from the detail where a raise site does not pass them.
* ``FIELD_MESSAGES`` does the same for the short per-field messages (``"required"``,
  ``"already registered"``, ``"on or before the closed date 2026-01-31"``).
* Anything without a translation falls back to the English text, never to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from admin import labels
from admin.filters import purpose, state
from ledger.money import format_money


@dataclass(frozen=True)
class Translation:
    """One situation of an error code: how to recognise it and what to say."""

    text: object  # a lazy gettext string with %(name)s placeholders
    #: Matches the English detail and captures parameters the raise site left out
    pattern: re.Pattern | None = None
    #: The raise site's ``case`` that selects this entry
    case: str | None = None
    #: Turns a raw parameter into what a reader sees (a status into its name ...)
    show: Mapping[str, Callable[[str], str]] = field(default_factory=dict)


def T(text, pattern: str | None = None, *, case: str | None = None, **show) -> Translation:
    return Translation(text, re.compile(pattern, re.S) if pattern else None, case, show)


_ID = r"(?P<id>\d+)"
_DATE = r"(?P<date>\d{4}-\d{2}-\d{2})"

CATALOG: dict[str, list[Translation]] = {
    # --- money and the books -------------------------------------------------------------
    "insufficient_funds": [
        T(
            _l("Not enough money in %(account)s: it holds %(held)s and this needs %(needed)s."),
            r"^Not enough in (?P<account>\S+): it holds (?P<held>.+?) and this needs "
            r"(?P<needed>.+)\.$",
            account=labels.account_name,
        ),
        T(_l("There is not enough money in the account for this.")),
    ],
    "over_commitment": [
        T(
            _l(
                "Not enough money available to commit from %(source)s: %(available)s is "
                "available and this proposal needs %(needed)s."
            ),
            case="over_commitment",
            source=lambda code: purpose(code or None),
        ),
    ],
    "period_closed": [
        T(
            _l("The books are closed through %(through)s: nothing dated %(date)s can be posted."),
            r"closed through (?P<through>\d{4}-\d{2}-\d{2}); an entry dated " + _DATE,
        ),
        T(_l("The books are closed for this date.")),
    ],
    "idempotency_key_reused": [
        T(_l("This form was already sent with other content. Reload the page and try again."))
    ],
    "already_reversed": [T(_l("Entry %(id)s has already been reversed."), r"Entry " + _ID)],
    "account_closed": [T(_l("Account %(account)s is closed."), account=labels.account_name)],
    "currency_mismatch": [T(_l("The currency does not match the account's currency."))],
    "unbalanced_entry": [T(_l("The entry does not balance."))],
    "unknown_account": [T(_l("There is no such account in the chart of accounts."))],
    "balance_assertion_failed": [
        T(_l("The balance assertions do not hold; the period stays open. See each below."))
    ],
    # --- amounts -------------------------------------------------------------------------
    "invalid_amount": [
        T(_l("“%(text)s” is not an amount."), r"^Not an amount: '(?P<text>.*)'\.$"),
        T(_l("“%(text)s” has more decimals than allowed."), r"^'(?P<text>.*)' has more decimals"),
        T(_l("The amount must be more than zero."), r"must be positive\.$"),
        T(_l("The amount is too large."), r"is too large\.$"),
        T(_l("Amounts in NT$ are whole dollars."), r"must be a whole number of"),
        T(_l("Revenue cannot be negative."), r"^Revenue cannot be negative"),
        T(
            _l("The payment is more than what is still due on the pledge (%(amount)s)."),
            r"^The payment exceeds what is still due on pledge \d+ \((?P<amount>.+)\)\.$",
        ),
        T(
            _l("The payment is more than what is still due on the pledge."),
            r"^The payment exceeds what is still due",
        ),
        T(
            _l("The return is more than what is due on the agreement (%(amount)s)."),
            r"^The return exceeds what is due on agreement \d+ \((?P<amount>.+)\)\.$",
        ),
        T(
            _l(
                "More has already been returned on this agreement than the corrected reports "
                "would make due."
            ),
            r"^More has already been returned",
        ),
        T(_l("The amount is not valid.")),
    ],
    # --- states and approvals --------------------------------------------------------------
    "approval_required": [
        T(
            _l(
                "Your institution has already approved this disbursement: the second approval "
                "must come from a manager of another institution."
            ),
            case="same_institution",
        ),
        T(
            _l(
                "Your institution has already approved this disbursement: the second approval "
                "must come from a manager of another institution."
            ),
            r"^Your institution has already approved",
        ),
        T(
            _l("Payment needs the approvals of two fund managers of different institutions."),
            r"^Payment needs approvals",
        ),
        T(_l("This needs the approval of another institution's fund manager.")),
    ],
    "invalid_state": [
        T(
            _l("Disbursement %(id)s is %(status)s: only one awaiting approval can be approved."),
            r"^Disbursement " + _ID + r" is (?P<status>\w+); only a reserved one can be approved",
            status=state,
        ),
        T(
            _l("Disbursement %(id)s is %(status)s: it cannot be paid."),
            r"^Disbursement " + _ID + r" is (?P<status>\w+); it cannot be paid",
            status=state,
        ),
        T(
            _l("Disbursement %(id)s is %(status)s: only one awaiting approval can be voided."),
            r"^Disbursement " + _ID + r" is (?P<status>\w+); only a reserved one can be voided",
            status=state,
        ),
        T(_l("You have already approved this disbursement."), r"^You have already approved"),
        T(
            _l("%(name)s is not verified: only verified organisations receive disbursements."),
            r"^(?P<name>.+) is not verified; only verified",
        ),
        T(_l("The line is ignored: unmatch it first."), r"^The line is ignored"),
        T(_l("The line is confirmed: unmatch it first."), r"^The line is confirmed"),
        T(
            _l("Already matched to another line: %(items)s."),
            r"^Already matched to another line: (?P<items>.+)\.$",
            items=labels.targets_in,
        ),
        T(
            _l(
                "The line cannot pay this pledge (more than is due, or a withdrawal): record the "
                "donation by hand and confirm the line against it."
            ),
            r"^The line cannot pay this pledge",
        ),
        T(
            _l("This proposal is %(status)s: it can no longer be answered."),
            r"^This proposal is (?P<status>\w+); it can no longer be answered",
            status=state,
        ),
        T(_l("Institutions are verified when they are set up."), r"^Institutions are verified"),
        T(_l("Pledge %(id)s is fully paid."), r"^Pledge " + _ID + r" is fully paid"),
        T(_l("A reversing entry cannot itself be reversed."), r"^A reversing entry"),
        T(
            _l("This report was already corrected; correct the newer report instead."),
            case="already_corrected",
        ),
        T(_l("This cannot be done in the current state.")),
    ],
    "permission_denied": [
        T(_l("Only a fund manager may do this."), r"^Only a fund manager"),
        T(_l("You may not reset this user's password."), r"^You may not reset"),
        T(_l("You may not end this user's sessions."), r"^You may not end this user"),
        T(
            _l("Only the company or the business answers a proposal."),
            r"^Only the company or the business",
        ),
        T(_l("You may not do this.")),
    ],
    "not_found": [
        T(_l("This reset link is not valid or has expired."), r"^This reset link"),
        T(
            _l("Account %(code)s does not exist."),
            r"^Account '(?P<code>[^']+)' does not exist",
            code=labels.account_name,
        ),
        T(_l("This item does not exist, or you may not see it.")),
    ],
    # --- forms and registration -------------------------------------------------------------
    "validation_error": [
        T(_l("The file is empty."), case="empty"),
        T(_l("The amounts differ by %(difference)s; say why."), case="amounts_differ"),
        T(_l("The queue filter is not valid."), case="queue_filter"),
        T(_l("That page no longer exists; here is the first page."), case="queue_cursor"),
        T(_l("The file is larger than 24 MB."), case="too_large"),
        T(_l("Say why."), r"^Say why\.$"),
        T(_l("Say why you decline."), r"^Say why you decline"),
        T(_l("Give a reason to void."), r"^A reason is required to void"),
        T(
            _l("The books are already closed through %(date)s."),
            r"^The books are already closed through " + _DATE,
        ),
        T(
            _l("An organisation with this Unified Business Number is already registered."),
            r"Unified Business Number is already registered",
        ),
        T(_l("This email address already belongs to a user."), r"^This email address already"),
        T(
            _l("The password needs at least %(n)s characters."),
            r"^The password needs at least (?P<n>\d+) characters",
        ),
        T(_l("The password is too easy to guess."), case="weak_password"),
        T(
            _l(
                "The code does not match. Check the clock of your phone and type the code "
                "shown now."
            ),
            case="two_factor_code",
        ),
        T(
            _l("Money restricted to this purpose cannot be spent on project %(id)s."),
            r"^Money restricted to \S+ cannot be spent on project " + _ID,
        ),
        T(
            _l("Nothing to confirm: the line is not matched; choose what it matches."),
            r"^Nothing to confirm",
        ),
        T(
            _l("Unknown ledger item %(item)s."),
            r"^Unknown ledger item '(?P<item>[^']+)'",
            item=labels.targets_in,
        ),
        T(_l("Only a bank line can pay a pledge."), r"^Only a bank line"),
        T(
            _l("The period must fall within the agreement (%(start)s to %(end)s)."),
            r"^The period must fall within the agreement \((?P<start>\S+) to (?P<end>\S+)\)",
        ),
        T(_l("Unknown column layout."), r"^Unknown mapping"),
        T(_l("Only companies and local businesses register themselves."), r"^Only companies"),
        T(_l("The matching parameters are not valid."), r"^invalid matching input"),
        T(_l("The period ends before it starts."), case="period_reversed"),
        T(
            _l(
                "Revenue for %(start)s to %(end)s was already reported; periods may not "
                "overlap. Correct that report instead."
            ),
            case="period_overlap",
        ),
        T(_l("A correction needs a reason."), r"^A correction needs a reason"),
        T(_l("Some fields are not valid; see below.")),
    ],
    # --- bank statements ----------------------------------------------------------------------
    "bank_statement_invalid": [
        T(
            _l("%(n)s malformed lines: nothing was imported."),
            r"^(?P<n>\d+) malformed line",
        )
    ],
    "bank_statement_unreadable": [
        T(
            _l("The file has no header row with the columns this layout needs (%(columns)s)."),
            r"^No header row with the columns (?P<columns>.+?) in the first",
        ),
        T(_l("The file cannot be read with this layout and encoding.")),
    ],
    # --- the import jobs' own outcomes ----------------------------------------------------------
    "interrupted": [T(_l("The import stopped before it finished (the server restarted)."))],
    "internal_error": [T(_l("An unexpected error occurred."))],
    # --- the matcher ---------------------------------------------------------------------------
    "invalid_instance": [T(_l("The matching parameters are not valid."))],
    "invalid_designations": [T(_l("The priority-area designation file has bad lines."))],
    "infeasible": [
        T(
            _l(
                "No set of proposals satisfies the constraint “%(constraint)s” "
                "(%(subject)s); relax it."
            ),
            r".",
            constraint=labels.label,
            subject=labels.match_keys,
        ),
        T(
            _l("No set of proposals satisfies the constraint “%(constraint)s”; relax it."),
            r".",
            constraint=labels.label,
        ),
    ],
}

FIELD_MESSAGES: list[Translation] = [
    T(
        _l("Say why: the amounts differ by %(difference)s."),
        r"^required: the amounts differ by (?P<difference>\S+)$",
    ),
    T(_l("Required."), r"^required"),
    T(_l("Already registered."), r"^already registered$"),
    T(_l("Already in use."), r"^in use$"),
    T(_l("Not a number."), r"^not a number$"),
    T(_l("Too many decimals."), r"^fractional minor units$"),
    T(_l("Must be more than zero."), r"^must be positive$"),
    T(_l("Too large."), r"^too large$"),
    # Minor units never reach a reader: 100 minor units of NT$ is one whole dollar
    T(_l("Whole NT$ only, no cents."), r"^must be a multiple of 100$"),
    T(
        _l("Must be a multiple of %(n)s."),
        r"^must be a multiple of (?P<n>\d+)$",
        n=lambda n: format_money(int(n), "TWD"),
    ),
    T(_l("More than is outstanding."), r"^exceeds the amount outstanding$"),
    T(_l("More than is due."), r"^exceeds the amount due$"),
    T(_l("Cannot be negative."), r"^negative$"),
    T(_l("The purpose does not match the project."), r"^purpose does not match the project$"),
    T(_l("Already closed."), r"^already closed$"),
    T(_l("Already used with other content."), r"^already used with different content$"),
    T(_l("Outside the agreement's period."), r"^outside the agreement$"),
    T(_l("On or before the closed date %(date)s."), r"^on or before the closed date " + _DATE),
    T(_l("The file is empty."), r"^empty$"),
    T(_l("At least %(n)s characters."), r"^at least (?P<n>\d+) characters$"),
    T(_l("Too easy to guess."), r"^too easy to guess$"),
    T(_l("The code does not match."), r"^the code does not match$"),
    T(_l("%(item)s does not exist."), r"^(?P<item>\S+) does not exist$", item=labels.targets_in),
    T(_l("Choose what the line matches."), r"^required for an unmatched line$"),
    T(_l("Line %(n)s."), r"^line (?P<n>\d+)$"),
    T(_l("Before the start date."), r"^before period_start$"),
    T(_l("Overlaps a report already made."), r"^overlaps a report already made$"),
    T(_l("Less than what was already returned."), r"^less than what was already returned$"),
    T(_l("More than the %(amount)s available."), r"^more than the (?P<amount>.+) available$"),
    T(
        _l("%(account)s: the statement says %(expected)s, the ledger has %(actual)s."),
        r"^(?P<account>\S+): expected (?P<expected>.+), the ledger has (?P<actual>.+)$",
        account=labels.account_name,
    ),
]


def _english() -> bool:
    return str(get_locale() or "").startswith("en")


def _bilingual(detail: str) -> str:
    """Bank file errors come as "English / 中文": the half in the reader's language."""
    if " / " in detail and re.search(r"[\u4e00-\u9fff]", detail.rsplit(" / ", 1)[1]):
        english, chinese = detail.split(" / ", 1)
        return english if _english() else chinese
    return detail


def _render(entry: Translation, params: Mapping[str, object]) -> str | None:
    # A parameter the raise site left empty (None) counts as missing: the next entry fits
    values = {
        k: entry.show[k](str(v)) if k in entry.show else v
        for k, v in params.items()
        if v is not None
    }
    try:
        return str(entry.text) % values if "%(" in str(entry.text) else str(entry.text)
    except (KeyError, TypeError, ValueError):
        return None  # a parameter is missing: try the next entry


def translate(code: str | None, detail: str, extra: Mapping[str, object] | None = None) -> str:
    """The message for an error ``code`` in the reader's language (English detail if none)."""
    return _translate(code, detail, extra)[0]


def _translate(
    code: str | None, detail: str, extra: Mapping[str, object] | None = None
) -> tuple[str, bool]:
    """The message and whether it says something particular to this error (an entry that
    matched its case or its detail, not the code's catch-all)."""
    extra = dict(extra or {})
    case = extra.get("case")
    for entry in CATALOG.get(code or "", []):
        if entry.case is not None:
            if entry.case != case:
                continue
            params = extra
        elif entry.pattern is not None:
            match = entry.pattern.search(detail or "")
            if match is None:
                continue
            # The raise site's parameters win; the detail fills in what it left out
            params = {**{k: v for k, v in match.groupdict().items() if v is not None}, **extra}
        else:
            params = extra
        text = _render(entry, params)
        if text is not None:
            return text, entry.case is not None or entry.pattern is not None
    return _bilingual(detail or ""), False


def field_message(message: str) -> str:
    """A per-field message in the reader's language (as given when it has no translation)."""
    for entry in FIELD_MESSAGES:
        match = entry.pattern.search(message) if entry.pattern else None
        if match is not None:
            text = _render(entry, match.groupdict())
            if text is not None:
                return text
    return _bilingual(message)


def message(error) -> str:
    """A ledger or matching error's message in the reader's language."""
    return translate(getattr(error, "code", None), getattr(error, "detail", str(error)),
                     getattr(error, "extra", None))  # fmt: skip


def is_particular(error) -> bool:
    """Does the error's message say more than its code's catch-all ("Some fields are not
    valid")? Then it can stand alone next to the one field it is about."""
    return _translate(getattr(error, "code", None), getattr(error, "detail", str(error)),
                      getattr(error, "extra", None))[1]  # fmt: skip


def field_errors(error) -> dict[str, list[str]]:
    """A ledger error's per-field messages, translated."""
    return {
        name: [field_message(str(m)) for m in messages]
        for name, messages in (getattr(error, "fields", None) or {}).items()
    }
