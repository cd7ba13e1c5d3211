"""A finished job's outcome on its console page: the figures each kind reports, in words.

A kind's result (``jobs/kinds/``) is JSON made for the API: its own keys, some nested
(``stripe_sync`` keeps its figures under ``sync``, ``stripe_event`` under ``event``), with
Stripe timestamps, state codes and ids of what was made. Each kind says here which of
them a reader sees, under which words (Traditional Chinese or English) and how its value
is written (12,345; NT$1,000; a Taiwan date and time; yes or no; a state in words): the
same key can mean different things in two kinds (``lines_read`` is a bank file's lines but
Stripe's balance transactions), and what a kind does not name is not shown, so a reader
never meets a key or a code. Every registered kind has an entry
(``tests/admin/test_job_figures.py`` fails for one without).

A sync's refusals are domain errors: each is said in words from its message code and
values (``admin.messages``), with Stripe's id. A Stripe notification's ``detail`` is not
shown: it is free English the payment handlers compose (``card_payments.Outcome``, the
ids and Stripe's states in a sentence), not one of a fixed set of messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask_babel import gettext as _

from admin import messages
from admin.filters import TAIPEI, money

Figures = list[tuple[str, str]]


# --- how values are written -------------------------------------------------------------------


def _count(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return f"{value:,}"


def _number(value) -> str | None:
    """An id of something the job made (an import, a run): no thousands separator, as the
    pages that show it write it."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return str(value)


def _yes_no(value) -> str | None:
    if not isinstance(value, bool):
        return None
    return _("Yes") if value else _("No")


def _moment(value) -> str | None:
    """A Stripe timestamp (seconds) as Taiwan time."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return dt.datetime.fromtimestamp(value, TAIPEI).strftime("%Y-%m-%d %H:%M")


def _day(value) -> str | None:
    try:
        return dt.date.fromisoformat(value).isoformat() if isinstance(value, str) else None
    except ValueError:
        return None


def _amounts(value) -> str | None:
    """``{"TWD": 150000, "USD": 2000}``: NT$1,500 · US$20.00."""
    if not isinstance(value, dict):
        return None
    shown = [
        money(amount, currency)
        for currency, amount in sorted(value.items())
        if isinstance(currency, str) and isinstance(amount, int) and not isinstance(amount, bool)
    ]
    return " · ".join(shown) if shown else money(0)


def _length(value) -> str | None:
    return f"{len(value):,}" if isinstance(value, list) else None


def _stripe_id(value) -> str | None:
    """Stripe's id of an object (evt_...): what a manager looks up in Stripe's dashboard."""
    return value if isinstance(value, str) and value else None


def _event_state(value) -> str | None:
    # ledger/payments/models.py EVENT_STATES
    words = {
        "received": _("Received, not applied yet"),
        "applied": _("Applied"),
        "ignored": _("Nothing to record"),
        "needs_attention": _("Needs attention"),
    }
    return words.get(value) if isinstance(value, str) else None


def _companies(value) -> str | None:
    if not isinstance(value, list):
        return None
    ids = {r.get("company_id") for r in value if isinstance(r, dict)}
    return f"{len(ids):,}"


# --- what each kind shows -----------------------------------------------------------------------

#: One figure: where it is in the result (a key, or keys into nested objects), its words
#: (a function: the reader's language is known only during the request), how to write it
Figure = tuple[tuple[str, ...], Callable[[], str], Callable[[object], str | None]]


def _bank_import() -> list[Figure]:
    return [
        (("lines_read",), lambda: _("Lines in the file"), _count),
        (("lines_new",), lambda: _("New lines"), _count),
        (("duplicates",), lambda: _("Already imported"), _count),
        (("bad_line_count",), lambda: _("Bad lines"), _count),
        (("matched",), lambda: _("Matched"), _count),
        (("suggested",), lambda: _("Suggested"), _count),
        (("unmatched",), lambda: _("Unmatched"), _count),
        (("donations_recorded",), lambda: _("Donations recorded"), _count),
        (("import_id",), lambda: _("Statement import no."), _number),
        (("run_id",), lambda: _("Reconciliation run no."), _number),
    ]


def _stripe_event() -> list[Figure]:
    return [
        (("event", "event_id"), lambda: _("Stripe notification"), _stripe_id),
        (("event", "status"), lambda: _("Notification status"), _event_state),
        (("event", "applied_now"), lambda: _("Applied by this job"), _yes_no),
    ]


def _stripe_sync() -> list[Figure]:
    return [
        (("sync", "since"), lambda: _("Read from"), _moment),
        (("sync", "events_seen"), lambda: _("Stripe notifications read"), _count),
        (("sync", "events_applied"), lambda: _("Notifications applied"), _count),
        (("sync", "events_ignored"), lambda: _("Notifications with nothing to record"), _count),
        (("sync", "duplicates"), lambda: _("Notifications applied before"), _count),
        (("sync", "needs_attention"), lambda: _("Notifications needing attention"), _count),
        (("sync", "transactions_seen"), lambda: _("Balance transactions read"), _count),
        (
            ("sync", "objects_applied"),
            lambda: _("Payments, refunds and payouts recorded"),
            _count,
        ),
        (("sync", "problems"), lambda: _("Problems"), _length),
    ]


def _stripe_import() -> list[Figure]:
    return [
        (("lines_read",), lambda: _("Balance transactions read"), _count),
        (("lines_new",), lambda: _("New lines"), _count),
        (("duplicates",), lambda: _("Already imported"), _count),
        (("import_id",), lambda: _("Statement import no."), _number),
    ]


def _yearly_statements() -> list[Figure]:
    return [
        (("companies",), lambda: _("Companies"), _count),
        (("rendered",), lambda: _("Statements made"), _count),
        (("already_current",), lambda: _("Already up to date"), _count),
        (("numbered",), lambda: _("Receipts numbered"), _count),
        (("parts",), lambda: _("Parts (one job each)"), _count),
    ]


def _yearly_statements_part() -> list[Figure]:
    return [
        (("companies",), lambda: _("Companies"), _count),
        (("rendered",), lambda: _("Statements made"), _count),
        (("already_current",), lambda: _("Already up to date"), _count),
    ]


def _company_statement() -> list[Figure]:
    return [
        (("rendered",), lambda: _("Statements made"), _count),
        (("already_current",), lambda: _("Already up to date"), _count),
    ]


def _overdue_reminders() -> list[Figure]:
    return [
        (("date",), lambda: _("Date of the list"), _day),
        (("count",), lambda: _("Instalments to remind"), _count),
        (("reminders",), lambda: _("Companies to remind"), _companies),
        (("amounts",), lambda: _("Unpaid"), _amounts),
    ]


def _match_run() -> list[Figure]:
    return [
        (("proposals",), lambda: _("Proposals"), _count),
        (("match_run_id",), lambda: _("Matching run no."), _number),
    ]


def _seal() -> list[Figure]:
    return [(("sealed",), lambda: _("Entries sealed"), _count)]


KIND_FIGURES: dict[str, Callable[[], list[Figure]]] = {
    "bank_import": _bank_import,
    "stripe_event": _stripe_event,
    "stripe_sync": _stripe_sync,
    "stripe_import": _stripe_import,
    "yearly_statements": _yearly_statements,
    "yearly_statements_part": _yearly_statements_part,
    "company_statement": _company_statement,
    "overdue_reminders": _overdue_reminders,
    "match_run": _match_run,
    "seal": _seal,
}


def _at(result: dict, path: tuple[str, ...]):
    value: object = result
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _notes(kind: str, result: dict) -> Figures:
    """What a kind says in a sentence rather than a figure."""
    sync = result.get("sync") if kind == "stripe_sync" else None
    if isinstance(sync, dict) and "note" in sync and "events_seen" not in sync:
        # Not an error: a fund without card payments has nothing to synchronise
        return [(_("Stripe"), _("Not configured: nothing to synchronise."))]
    return []


def _refusals(kind: str, result: dict) -> Figures:
    """A sync's refused notifications and transactions, one line each: Stripe's id and the
    ledger's refusal in words, from its message code and values (``refusals``, kept beside
    the English ``problems`` the API shows). Older results have only the English: their
    count is shown, not their text."""
    sync = result.get("sync") if kind == "stripe_sync" else None
    refusals = sync.get("refusals") if isinstance(sync, dict) else None
    if not isinstance(refusals, list):
        return []
    shown = []
    for refusal in refusals:
        if not isinstance(refusal, dict) or not isinstance(refusal.get("message_code"), str):
            continue
        params = refusal.get("params") if isinstance(refusal.get("params"), dict) else {}
        said = messages.translate(refusal["message_code"], params)
        stripe_id = _stripe_id(refusal.get("stripe_id"))
        shown.append((_("Problem"), f"{stripe_id}: {said}" if stripe_id else said))
    return shown


def figures(kind: str, result: object) -> Figures:
    """``(words, value)`` of each figure ``result`` has that ``kind`` shows, in its order."""
    if not isinstance(result, dict):
        return []
    shown = _notes(kind, result)
    table = KIND_FIGURES.get(kind)
    if table is None:
        return shown
    for path, words, write in table():
        value = _at(result, path)
        if value is None:
            continue
        written = write(value)
        if written is not None:
            shown.append((words(), written))
    return shown + _refusals(kind, result)
