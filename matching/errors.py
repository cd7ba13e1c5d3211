"""Domain errors of the matcher. Every error has a stable ``code`` for machines, ``params``
for the console's message and a ``detail`` for people (foundation/errors.py); the API maps
them to problem documents the same way as the ledger's.
"""

from __future__ import annotations

from foundation.errors import DomainError


class MatchingError(DomainError):
    """Base of every error the matcher raises on purpose."""

    code = "matching_error"
    status = 422


class InvalidInstance(MatchingError):
    """The input is wrong. ``problems`` lists every ``(field path, message)`` found, so a
    person can fix them all in one go instead of one per run."""

    code = "invalid_instance"

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        shown = "; ".join(f"{path}: {message}" for path, message in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"invalid matching input: {shown}", params={"count": len(self.problems)})


class DesignationError(MatchingError):
    """A priority-area designation file has bad lines. ``problems`` holds
    ``(line number, message)`` pairs, line 1 being the header."""

    code = "invalid_designations"

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = list(problems)
        shown = "; ".join(f"line {line}: {message}" for line, message in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(
            f"invalid priority-area designations: {shown}", params={"count": len(self.problems)}
        )


class Infeasible(MatchingError):
    """No assignment satisfies the constraints. ``constraint`` names the one that cannot be
    met (``capacity``, ``budget``, ``min_priority_share`` ...) and ``subject`` what it is
    about (an offer or request id), so the fund manager knows what to change."""

    code = "infeasible"

    def __init__(self, detail: str, *, constraint: str, subject: str | None = None):
        super().__init__(
            detail,
            reason="about" if subject else None,
            params={"constraint": constraint, "subject": subject},
            constraint=constraint,
            subject=subject,
        )
        self.constraint = constraint
        self.subject = subject
