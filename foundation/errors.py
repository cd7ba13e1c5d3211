"""The base of every error the domain raises on purpose: a stable code and parameters.

An error says what went wrong three ways, one for each reader:

* ``code`` (on the class): the kind of problem, stable, for machines. The API puts it in its
  problem documents (api/errors.py) together with the class's HTTP ``status``.
* ``message_code``: the kind and, when the raise site names it, the particular situation
  (``invalid_state.disbursement_not_reserved``), with ``params``: the values the message
  needs, as data (amounts in minor units beside their ``currency``, ids, names, dates in ISO
  form). The console renders this through a Babel template per message code
  (admin/error_messages.py), so a message is translated by what it means, never by
  re-reading its English wording.
* ``detail``: the English sentence for the API's problem documents and the logs.

Per-field messages are strings (the API shows them as they are); a ``FieldMessage`` is such a
string that also carries its own code and parameters for the console.

Below the base are the kinds every package raises (identity, the ledger, matching and the
faces): not found, validation, invalid state, permission and the ledger's own refusals. They
began in the ledger, hence ``LedgerError``; one place (api/errors.py) maps them to HTTP
problem documents and the console renders them by message code (admin/error_messages.py).
"""

from __future__ import annotations

from collections.abc import Mapping


class FieldMessage(str):
    """A per-field message: English text for the API, ``code`` and ``params`` for the
    console. Compares and serialises as the plain string it is."""

    code: str
    params: dict[str, object]

    def __new__(cls, text: str, code: str, **params: object) -> FieldMessage:
        message = super().__new__(cls, text)
        message.code = code
        message.params = params
        return message

    def __reduce__(self):
        return (_field_message, (str(self), self.code, self.params))


def _field_message(text: str, code: str, params: dict) -> FieldMessage:
    return FieldMessage(text, code, **params)


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``reason`` names the situation within the class's ``code`` (lowercase words joined by
    ``_``; a test checks that every one raised has a message in every console language).
    ``params`` are its message's values. Other keywords are kept in ``extra`` as before;
    an ``extra`` ``case`` doubles as the reason when none is given.
    """

    code = "error"
    status = 422

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
        fields: dict[str, list[str]] | None = None,
        **extra,
    ):
        super().__init__(detail)
        self.detail = detail
        self.reason = reason or extra.get("case")
        self.params = dict(params or {})
        self.fields = fields or {}
        self.extra = extra

    @property
    def message_code(self) -> str:
        """The key of this error's message: ``code`` or ``code.reason``."""
        return f"{self.code}.{self.reason}" if self.reason else self.code


# --- the kinds -----------------------------------------------------------------------------


class LedgerError(DomainError):
    """Base of every error the ledger raises on purpose."""

    code = "ledger_error"
    status = 422


class ValidationError(LedgerError):
    """The request itself is wrong (bad amount, unknown currency, missing field)."""

    code = "validation_error"


class InvalidAmount(ValidationError):
    """Zero, negative, fractional or oversized amounts where they are not allowed."""

    code = "invalid_amount"


class CurrencyMismatch(ValidationError):
    """A posting's currency differs from its account's currency."""

    code = "currency_mismatch"


class UnbalancedEntry(ValidationError):
    """An entry's postings do not sum to zero in every currency."""

    code = "unbalanced_entry"


class NotFound(LedgerError):
    """The object does not exist (or, to an outsider, is not visible)."""

    code = "not_found"
    status = 404


class UnknownAccount(NotFound):
    code = "unknown_account"
    status = 422


class AccountClosed(LedgerError):
    code = "account_closed"
    status = 409


class InsufficientFunds(LedgerError):
    """Posting would overdraw an account that may not go negative (bank, clearing, restricted)."""

    code = "insufficient_funds"
    status = 409


class PeriodClosed(LedgerError):
    code = "period_closed"
    status = 409


class IdempotencyConflict(LedgerError):
    """The idempotency key was used before with a different request."""

    code = "idempotency_key_reused"
    status = 409


class AlreadyReversed(LedgerError):
    code = "already_reversed"
    status = 409


class InvalidState(LedgerError):
    """The object is not in a state that allows this step (e.g. paying a voided disbursement)."""

    code = "invalid_state"
    status = 409


class ApprovalRequired(LedgerError):
    """Money leaves the fund only with approvals of two managers of different institutions."""

    code = "approval_required"
    status = 409


class PermissionDenied(LedgerError):
    code = "permission_denied"
    status = 403


class AssertionFailed(LedgerError):
    """A balance assertion given when closing a period does not hold."""

    code = "balance_assertion_failed"
    status = 409
