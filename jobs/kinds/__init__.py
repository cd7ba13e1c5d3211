"""Every kind of job, registered by importing its module (``jobs.registry.kind``)."""

from jobs.kinds import bank_import, maintenance  # noqa: F401
