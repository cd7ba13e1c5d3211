"""The fund's operations: pledges, donations, disbursements, revenue returns and corrections,
each posting one balanced entry through ``ledger.books``; the figures and receipts they imply."""
