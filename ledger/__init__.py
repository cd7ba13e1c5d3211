"""The fund's double-entry ledger: money, accounts, entries, domain operations, the hash chain."""
