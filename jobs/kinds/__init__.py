"""Every kind of job, registered by importing its module (``jobs.registry.kind``)."""

from jobs.kinds import maintenance  # noqa: F401
