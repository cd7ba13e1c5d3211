"""Reconciliation: bank statement files, the matching rules, import runs and the queue
of lines that need a person."""
