"""foundation/metrics.py: a write is counted when its transaction commits, never when it
rolls back, and at once when it has committed already."""

from __future__ import annotations

from prometheus_client import Counter
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from foundation.metrics import count_after_commit


def _counter() -> Counter:
    return Counter("test_writes", "writes", registry=None)  # not in the service's registry


def test_counted_on_commit_and_forgotten_on_rollback():
    counter = _counter()
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        count_after_commit(session, counter, 2)
        assert counter._value.get() == 0  # not before the commit
        session.commit()
        assert counter._value.get() == 2
        session.execute(text("SELECT 1"))
        count_after_commit(session, counter, 5)
        session.rollback()
        session.commit()  # a later commit does not revive what was rolled back
        assert counter._value.get() == 2


def test_counted_at_once_when_the_write_committed_already():
    counter = _counter()
    with Session(create_engine("sqlite://")) as session:
        assert not session.in_transaction()
        count_after_commit(session, counter)
        assert counter._value.get() == 1


def test_with_a_token_only_its_bearer_may_read_from_anywhere():
    from foundation.metrics import may_read

    token = "t" * 32

    def asked(authorization: str, remote: str = "203.0.113.7", forwarded: bool = False) -> int:
        return may_read(token, authorization=authorization, remote_addr=remote, forwarded=forwarded)

    assert asked(f"Bearer {token}") == asked(f"bearer  {token} ", forwarded=True) == 200
    assert asked("") == asked("Bearer wrong") == asked(f"Basic {token}") == 401
    assert asked("", remote="127.0.0.1") == 401  # the token set: this machine needs it too


def test_without_a_token_only_this_machine_unforwarded_may_read():
    from foundation.metrics import may_read

    def asked(remote: str | None, forwarded: bool = False) -> int:
        return may_read(None, authorization="", remote_addr=remote, forwarded=forwarded)

    assert asked("127.0.0.1") == asked("::1") == 200
    assert asked("203.0.113.7") == asked("127.0.0.1", forwarded=True) == 404
    assert asked(None) == asked("not an address") == 404
