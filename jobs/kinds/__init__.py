"""Every kind of job, registered by importing its module (``jobs.registry.kind``)."""

from jobs.kinds import (  # noqa: F401
    bank_import,
    maintenance,
    matching,
    reminders,
    statements,
    stripe,
)
