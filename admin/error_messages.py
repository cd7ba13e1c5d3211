"""The console's message for every domain error, keyed by its stable message code.

A domain error carries ``code`` (its kind), an optional ``reason`` (the situation) and
``params`` (foundation/errors.py); ``MESSAGES`` maps ``code`` and ``code.reason`` to a Babel
template with named placeholders, and says how each parameter is shown (an amount in minor
units as NT$1,000 with its ``currency``, a status by its name, an account by its name).
``FIELD_MESSAGES`` does the same for the short per-field messages (``FieldMessage``).

The templates are extracted by ``python -m admin.i18n extract`` like every other string of
the console. tests/admin/test_error_messages.py fails when a code raised anywhere has no
template here, or its template has no translation in a console language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from admin import labels
from admin.filters import money as _money
from admin.filters import purpose, state

Show = Callable[[object, Mapping[str, object]], str]


@dataclass(frozen=True)
class Template:
    """A message in the reader's language: ``text`` (lazy, with ``%(name)s`` placeholders)
    and how to show each parameter that is not shown as it is."""

    text: object
    show: Mapping[str, Show] = field(default_factory=dict)


def M(text, **show: Show) -> Template:
    return Template(text, show)


# --- how parameters are shown ----------------------------------------------------------------


def money(value, params) -> str:
    """Minor units in the error's ``currency`` (TWD when it names none): NT$1,000."""
    return _money(int(value), str(params.get("currency") or "TWD"))


def account(value, _params) -> str:
    return labels.account_name(str(value))


def status(value, _params) -> str:
    return state(str(value))


def source(value, _params) -> str:
    """A restriction (``county:10002``) by its purpose; none is unrestricted money."""
    return purpose(str(value) or None)


def items(value, _params) -> str:
    """Ledger items named ``kind:id`` (``donation:12``), each in words."""
    return labels.targets_in(str(value))


def constraint(value, _params) -> str:
    return labels.label(str(value))


def match_keys(value, _params) -> str:
    return labels.match_keys(str(value))


def in_language(value, params) -> str:
    """A text the raise site gave in both languages: ``value`` in English, ``zh`` beside it."""
    return str(value) if labels.english() else str(params.get("zh") or value)


#: What an error whose code has no template says: something, in the reader's language
GENERIC = _l("The request could not be carried out.")
GENERIC_FIELD = _l("Not valid.")


MESSAGES: dict[str, Template] = {
    # --- the kinds of error: what each says when the raise site names no situation -----------
    "ledger_error": M(_l("The request could not be carried out.")),
    "validation_error": M(_l("Some fields are not valid; see below.")),
    "invalid_amount": M(_l("The amount is not valid.")),
    "currency_mismatch": M(_l("The currency does not match the account's currency.")),
    "unbalanced_entry": M(_l("The entry does not balance.")),
    "not_found": M(_l("This item does not exist, or you may not see it.")),
    "unknown_account": M(_l("There is no such account in the chart of accounts.")),
    "account_closed": M(_l("Account %(account)s is closed."), account=account),
    "insufficient_funds": M(_l("There is not enough money in the account for this.")),
    "period_closed": M(_l("The books are closed for this date.")),
    "idempotency_key_reused": M(
        _l("This form was already sent with other content. Reload the page and try again.")
    ),
    "already_reversed": M(_l("Entry %(id)s has already been reversed.")),
    "invalid_state": M(_l("This cannot be done in the current state.")),
    "approval_required": M(_l("This needs the approval of another institution's fund manager.")),
    "permission_denied": M(_l("You may not do this.")),
    "balance_assertion_failed": M(
        _l("The balance assertions do not hold; the period stays open. See each below.")
    ),
    "over_commitment": M(
        _l(
            "Not enough money available to commit from %(source)s: %(available)s is "
            "available and this proposal needs %(needed)s."
        ),
        source=source,
        available=money,
        needed=money,
    ),
    "invalid_virtual_account": M(_l("The virtual account number is not valid.")),
    "stripe_unavailable": M(_l("Card payments are unavailable right now. Try again later.")),
    "stripe_not_configured": M(_l("Card payments are not set up on this server.")),
    "stripe_refused": M(_l("The card payment was refused.")),
    # --- money and the books -----------------------------------------------------------------
    "insufficient_funds.not_enough": M(
        _l("Not enough money in %(account)s: it holds %(held)s and this needs %(needed)s."),
        account=account,
        held=money,
        needed=money,
    ),
    "period_closed.closed_through": M(
        _l("The books are closed through %(through)s: nothing dated %(date)s can be posted.")
    ),
    # --- amounts -----------------------------------------------------------------------------
    "jobs": M(_l("The job could not finish.")),
    "jobs.parts_unfinished": M(
        _l(
            "%(stopped)s of the %(total)s parts did not finish. The companies already done "
            "are kept: trying again makes only the rest."
        )
    ),
    "invalid_amount.not_an_amount": M(_l("“%(text)s” is not an amount.")),
    "invalid_amount.too_many_decimals": M(_l("“%(text)s” has more decimals than allowed.")),
    "invalid_amount.not_positive": M(_l("The amount must be more than zero.")),
    "invalid_amount.too_large": M(_l("The amount is too large.")),
    "invalid_amount.whole_dollars": M(_l("Amounts in NT$ are whole dollars.")),
    "invalid_amount.negative_revenue": M(_l("Revenue cannot be negative.")),
    "invalid_amount.zero_budget": M(
        _l("A budget is more than NT$0; leave it empty if you state no budget.")
    ),
    "invalid_amount.exceeds_pledge_due": M(
        _l("The payment is more than what is still due on the pledge (%(amount)s)."),
        amount=money,
    ),
    "invalid_amount.exceeds_agreement_due": M(
        _l("The return is more than what is due on the agreement (%(amount)s)."), amount=money
    ),
    "invalid_amount.returned_exceeds_due": M(
        _l(
            "More has already been returned on this agreement than the corrected reports "
            "would make due."
        )
    ),
    # --- states and approvals ----------------------------------------------------------------
    "approval_required.same_institution": M(
        _l(
            "Your institution has already approved this disbursement: the second approval "
            "must come from a manager of another institution."
        )
    ),
    "approval_required.two_institutions": M(
        _l("Payment needs the approvals of two fund managers of different institutions.")
    ),
    "invalid_state.approve_not_reserved": M(
        _l("Disbursement %(id)s is %(status)s: only one awaiting approval can be approved."),
        status=status,
    ),
    "invalid_state.pay_not_approved": M(
        _l("Disbursement %(id)s is %(status)s: it cannot be paid."), status=status
    ),
    "invalid_state.void_not_reserved": M(
        _l("Disbursement %(id)s is %(status)s: only one awaiting approval can be voided."),
        status=status,
    ),
    "invalid_state.already_approved": M(_l("You have already approved this disbursement.")),
    "invalid_state.not_verified": M(
        _l("%(name)s is not verified: only verified organisations receive disbursements.")
    ),
    "invalid_state.line_ignored": M(_l("The line is ignored: unmatch it first.")),
    "invalid_state.line_confirmed": M(_l("The line is confirmed: unmatch it first.")),
    "invalid_state.already_matched": M(
        _l("Already matched to another line: %(items)s."), items=items
    ),
    "invalid_state.line_cannot_pay_pledge": M(
        _l(
            "The line cannot pay this pledge (more than is due, or a withdrawal): record the "
            "donation by hand and confirm the line against it."
        )
    ),
    "invalid_state.proposal_answered": M(
        _l("This proposal is %(status)s: it can no longer be answered."), status=status
    ),
    "invalid_state.institution_verified": M(_l("Institutions are verified when they are set up.")),
    "invalid_state.pledge_paid": M(_l("Pledge %(id)s is fully paid.")),
    "invalid_state.reversing_entry": M(_l("A reversing entry cannot itself be reversed.")),
    "invalid_state.already_corrected": M(
        _l("This report was already corrected; correct the newer report instead.")
    ),
    "invalid_state.not_an_adjustment": M(
        _l(
            "Entry %(id)s records a %(kind)s: correct it through that operation (only manual "
            "adjustments are reversed directly)."
        ),
        kind=status,
    ),
    "permission_denied.fund_manager_only": M(_l("Only a fund manager may do this.")),
    "permission_denied.reset_password": M(_l("You may not reset this user's password.")),
    "permission_denied.end_sessions": M(_l("You may not end this user's sessions.")),
    "permission_denied.answer_proposal": M(
        _l("Only the company or the business answers a proposal.")
    ),
    "not_found.reset_link": M(_l("This reset link is not valid or has expired.")),
    "not_found.account": M(_l("Account %(code)s does not exist."), code=account),
    # --- forms and registration --------------------------------------------------------------
    "validation_error.empty": M(_l("The file is empty.")),
    "validation_error.too_large": M(_l("The file is larger than 24 MB.")),
    "validation_error.amounts_differ": M(
        _l("The amounts differ by %(difference)s; say why."), difference=money
    ),
    "validation_error.queue_filter": M(_l("The queue filter is not valid.")),
    "validation_error.queue_cursor": M(_l("That page no longer exists; here is the first page.")),
    "validation_error.name_without_letters": M(
        _l("A name needs at least one letter or Chinese character, not only emoji or symbols.")
    ),
    "validation_error.say_why": M(_l("Say why.")),
    "validation_error.decline_reason": M(_l("Say why you decline.")),
    "validation_error.void_reason": M(_l("Give a reason to void.")),
    "validation_error.correction_reason": M(_l("A correction needs a reason.")),
    "validation_error.already_closed": M(_l("The books are already closed through %(date)s.")),
    "validation_error.ubn_registered": M(
        _l("An organisation with this Unified Business Number is already registered.")
    ),
    "validation_error.email_taken": M(_l("This email address already belongs to a user.")),
    "validation_error.password_too_short": M(_l("The password needs at least %(n)s characters.")),
    "validation_error.weak_password": M(_l("The password is too easy to guess.")),
    "validation_error.two_factor_code": M(
        _l("The code does not match. Check the clock of your phone and type the code shown now.")
    ),
    "validation_error.purpose_mismatch": M(
        _l("Money restricted to this purpose cannot be spent on project %(id)s.")
    ),
    "validation_error.nothing_to_confirm": M(
        _l("Nothing to confirm: the line is not matched; choose what it matches.")
    ),
    "validation_error.unknown_item": M(_l("Unknown ledger item %(item)s."), item=items),
    "validation_error.bank_line_only": M(_l("Only a bank line can pay a pledge.")),
    "validation_error.outside_agreement": M(
        _l("The period must fall within the agreement (%(start)s to %(end)s).")
    ),
    "validation_error.unknown_mapping": M(_l("Unknown column layout.")),
    "validation_error.self_registration": M(
        _l("Only companies and local businesses register themselves.")
    ),
    "validation_error.period_reversed": M(_l("The period ends before it starts.")),
    "validation_error.period_overlap": M(
        _l(
            "Revenue for %(start)s to %(end)s was already reported; periods may not "
            "overlap. Correct that report instead."
        )
    ),
    "validation_error.stale_profile": M(
        _l("The profile changed since you opened it; reload and edit again.")
    ),
    "ledger_error.not_an_assertion": M(_l("Line %(n)s is not 'account code = amount'.")),
    # --- bank statements ---------------------------------------------------------------------
    "bank_statement_invalid": M(_l("%(n)s malformed lines: nothing was imported.")),
    "bank_statement_unreadable": M(_l("The file cannot be read with this layout and encoding.")),
    "bank_statement_unreadable.no_header": M(
        _l("The file has no header row with the columns this layout needs (%(columns)s).")
    ),
    "bank_statement_unreadable.unknown_encoding": M(
        _l("The encoding %(encoding)s is not supported.")
    ),
    "bank_statement_unreadable.amount_columns": M(
        _l(
            "A column layout needs either one amount column or deposit and withdrawal "
            "columns, not both."
        )
    ),
    # --- the import jobs' own outcomes -------------------------------------------------------
    "interrupted": M(_l("The import stopped before it finished (the server restarted).")),
    "internal_error": M(_l("An unexpected error occurred.")),
    "invalid_state.import_file_gone": M(
        _l("The file of this import is no longer kept; upload it again.")
    ),
    # --- background jobs (jobs/records.py) -----------------------------------------------------
    "not_found.job": M(_l("There is no job %(id)s.")),
    "invalid_state.job_finished": M(
        _l("Job %(id)s has already finished (%(status)s): it cannot be cancelled."), status=status
    ),
    "invalid_state.job_not_retryable": M(
        _l("Only a failed or cancelled job can be run again; job %(id)s is %(status)s."),
        status=status,
    ),
    "invalid_state.job_not_runnable": M(
        _l("Job %(id)s cannot run again: what it needed is gone (its file was refused).")
    ),
    # --- the matcher -------------------------------------------------------------------------
    "matching_error": M(_l("The matching could not be carried out.")),
    "invalid_instance": M(_l("The matching parameters are not valid.")),
    "invalid_designations": M(_l("The priority-area designation file has bad lines.")),
    "infeasible": M(
        _l("No set of proposals satisfies the constraint “%(constraint)s”; relax it."),
        constraint=constraint,
    ),
    "infeasible.about": M(
        _l(
            "No set of proposals satisfies the constraint “%(constraint)s” (%(subject)s); relax it."
        ),
        constraint=constraint,
        subject=match_keys,
    ),
}


FIELD_MESSAGES: dict[str, Template] = {
    "required": M(_l("Required.")),
    "no_letter": M(_l("Needs at least one letter or Chinese character.")),
    "amounts_differ": M(_l("Say why: the amounts differ by %(difference)s."), difference=money),
    "already_registered": M(_l("Already registered.")),
    "in_use": M(_l("Already in use.")),
    "not_a_number": M(_l("Not a number.")),
    "too_many_decimals": M(_l("Too many decimals.")),
    "not_positive": M(_l("Must be more than zero.")),
    "too_large": M(_l("Too large.")),
    # Minor units never reach a reader: 100 minor units of NT$ is one whole dollar
    "whole_dollars": M(_l("Whole NT$ only, no cents.")),
    "multiple_of": M(_l("Must be a multiple of %(n)s."), n=money),
    "exceeds_outstanding": M(_l("More than is outstanding.")),
    "exceeds_due": M(_l("More than is due.")),
    "negative": M(_l("Cannot be negative.")),
    "purpose_mismatch": M(_l("The purpose does not match the project.")),
    "already_closed": M(_l("Already closed.")),
    "key_reused": M(_l("Already used with other content.")),
    "outside_agreement": M(_l("Outside the agreement's period.")),
    "closed_date": M(_l("On or before the closed date %(date)s.")),
    "empty": M(_l("The file is empty.")),
    "min_length": M(_l("At least %(n)s characters.")),
    "too_easy": M(_l("Too easy to guess.")),
    "code_mismatch": M(_l("The code does not match.")),
    "item_missing": M(_l("%(item)s does not exist."), item=items),
    "choose_target": M(_l("Choose what the line matches.")),
    "line": M(_l("Line %(n)s.")),
    "before_start": M(_l("Before the start date.")),
    "overlaps_report": M(_l("Overlaps a report already made.")),
    "less_than_returned": M(_l("Less than what was already returned.")),
    "more_than_available": M(_l("More than the %(amount)s available."), amount=money),
    "assertion_differs": M(
        _l("%(account)s: the statement says %(expected)s, the ledger has %(actual)s."),
        account=account,
        expected=money,
        actual=money,
    ),
    "invalid": M(_l("Not valid.")),
    "not_a_company": M(_l("Not a company.")),
    "not_a_business": M(_l("Not a local business.")),
    "own_organisation": M(_l("Must be your own organisation.")),
    "unknown_township": M(_l("Unknown township.")),
    "too_long": M(_l("Too long.")),
    "unknown_field": M(_l("Unknown field.")),
    "differs_from_pledge": M(_l("Differs from the pledge.")),
    "out_of_range": M(_l("Out of range.")),
    "unsupported_currency": M(_l("Unsupported currency.")),
    "exceeds_refundable": M(_l("More than is left to refund.")),
    "current_version": M(_l("The current version is %(version)s.")),
    # A bank file's line, described by the parser in both languages
    "bank_line": M(_l("Line %(line)s: %(message)s"), message=in_language),
}
