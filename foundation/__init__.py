"""The foundation every other package stands on: database handle and sessions, settings,
transactions, and the other pieces that know nothing of the fund's domain.

It imports nothing of ours outside itself and nothing of Flask, so the domain (``ledger``,
``matching``, ``identity``) and both faces (``api``, ``admin``) can all use it.
"""
