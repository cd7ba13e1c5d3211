"""Domain errors of the ledger. One place (api/errors.py) maps them to HTTP problem documents;
the console renders them by message code (admin/error_messages.py).

Every error carries a stable ``code`` for machines, a ``reason`` and ``params`` for the
console's message, and a ``detail`` for people reading the API (foundation/errors.py);
validation errors also carry per-field messages.
"""

from __future__ import annotations

from foundation.errors import DomainError, FieldMessage

__all__ = ["DomainError", "FieldMessage"]  # re-exported: raise sites import them from here


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
