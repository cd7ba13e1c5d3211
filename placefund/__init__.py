"""Composition root of the place-creation fund service: configuration, database, app, CLI.

The domain lives in ``ledger/`` and ``matching/``; the HTTP faces in ``api/`` and ``admin/``.
This package only wires them together.
"""
