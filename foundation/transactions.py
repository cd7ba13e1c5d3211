"""Transactions: the unit of work a caller hands to a service, and the helpers both faces use.

A request writes in one transaction, committed at the boundary (services only flush). What
the caller and the posting engine (``ledger.books.posting``) tell each other about that
transaction travels in a ``UnitOfWork`` passed to the service, in its signature:

- the caller says whether the service's last posting may commit the transaction in its own
  round trip (``commit_with_posting``: on PostgreSQL the ``COMMIT`` then goes in the same
  pipeline as the posting, one round trip fewer per request);
- the posting engine says whether the service answered with what an earlier call under the
  same idempotency key stored (``replayed``), which the API tells its client.

``atomic`` (a transaction, yielding the session) and ``write`` (a service call as one
transaction, with the commit-with-posting shortcut) are what both faces use; they take the
request's session, so nothing here knows of Flask.

A write that fails part-way (a posting whose entry row was written before an error) marks
the session with ``refuse_commit``; sessions made by the app's session factory
(``guard_commits``) then refuse to commit until rolled back, so a caller that catches the
error cannot commit half of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


class PostingRefused(Exception):
    """A posting that was to commit in its own round trip was refused by the database (an
    overdraft, a closed account or period...). Nothing was written: roll back and run the
    service again without ``commit_with_posting``, which finds out why and says so."""


class HalfPostedError(RuntimeError):
    """Commit refused: a ledger posting failed part-way in this transaction, or (a
    subclass, ``refuse_commit``'s ``error``) something else in it must not be stored."""


class UnitOfWork:
    """One transaction on ``session``, and what its caller and the posting engine say of it.

    ``commit_with_posting`` (set by the caller): the service's last posting may commit the
    transaction in its own round trip; a refusal then raises PostingRefused with nothing
    written. ``replayed`` (set by the posting engine): an idempotency key was found already
    used by the same request, and the service answered with what it stored then.

    As a context manager it is the transaction: begun on entry, or continued if the session
    is in one already (authentication may have begun it to read the token, so a request costs
    one BEGIN and one COMMIT); committed on success, rolled back on any error.
    """

    __slots__ = ("commit_with_posting", "replayed", "session")

    def __init__(self, session: Session, *, commit_with_posting: bool = False) -> None:
        self.session = session
        self.commit_with_posting = commit_with_posting
        self.replayed = False

    def __enter__(self) -> UnitOfWork:
        if not self.session.in_transaction():
            self.session.begin()
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        session = self.session
        if exc_type is not None:
            session.rollback()
            return
        # A posting may have committed already (commit_with_posting): then nothing is left
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            session.commit()


@contextmanager
def atomic(session: Session) -> Iterator[Session]:
    """``session``'s one transaction for a write: committed on success, rolled back on any
    error (a UnitOfWork whose caller needs nothing more than the session)."""
    with UnitOfWork(session):
        yield session


def write(session: Session, service: Callable[..., T], /, *args, **kwargs) -> tuple[T, UnitOfWork]:
    """``service(session, ..., uow=...)`` as one transaction, letting a service whose last
    write is a posting commit with it (one round trip fewer on PostgreSQL; see
    ledger.books.posting.post_entry). Should the database refuse that posting, nothing was
    written: the call runs again in a fresh transaction without the shortcut, and the
    careful path says why (an overdraft, a closed period...).

    Returns the service's result and the unit of work it ran in (``replayed``...).
    """
    try:
        with UnitOfWork(session, commit_with_posting=True) as uow:
            return service(session, *args, uow=uow, **kwargs), uow
    except PostingRefused:
        pass  # rolled back by the unit of work
    with UnitOfWork(session) as uow:
        return service(session, *args, uow=uow, **kwargs), uow


# --- commits refused after a failed write ------------------------------------------------

#: session.info key, private to this module: why the transaction must not be committed
_REFUSED = "foundation.transactions.refused"


def refuse_commit(
    session: Session, reason: str, error: type[HalfPostedError] = HalfPostedError
) -> None:
    """Refuse to commit ``session``'s transaction until it is rolled back, raising ``error``
    on a commit: a write failed part-way (the posting engine calls this when an error
    follows its entry row), or the request held what must not be stored (web.request_guard,
    with its own error, which its handler answers)."""
    session.info[_REFUSED] = (reason, error)


def guard_commits(factory: sessionmaker) -> sessionmaker:
    """Make the sessions of ``factory`` (the app's own, foundation.db) honour refuse_commit.

    On this factory only, never on SQLAlchemy's global Session class: importing a module
    must not change how every session in the process commits.
    """
    event.listen(factory, "before_commit", _refuse_if_marked)
    event.listen(factory, "after_rollback", _forget)
    event.listen(factory, "after_soft_rollback", _forget_soft)
    return factory


def _refuse_if_marked(session: Session) -> None:
    refused = session.info.get(_REFUSED)
    if refused:
        reason, error = refused
        if error is HalfPostedError:
            raise error(f"A ledger posting failed in this transaction ({reason}); roll it back.")
        raise error(f"{reason}; roll the transaction back.")


def _forget(session: Session) -> None:
    session.info.pop(_REFUSED, None)


def _forget_soft(session: Session, _previous) -> None:
    session.info.pop(_REFUSED, None)
