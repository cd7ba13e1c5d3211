"""Background work: jobs recorded in the database, delivered to workers by huey.

``jobs.models``: the ``jobs`` table (what a person sees: kind, status, progress, outcome) and
the workers' heartbeats. ``jobs.records``: submitting, claiming, finishing, retrying and
cancelling jobs. ``jobs.queue``: huey, on SQLite beside the embedded database or on the
service's PostgreSQL. ``jobs.runner``: carries one job from claim to outcome. ``jobs.kinds``:
what each kind of job does. ``jobs.worker``: the ``placefund worker`` process.
"""
