"""The books: chart of accounts, entries and postings, the posting engine, periods, the hash
chain, and reading balances and statements. Knows nothing of pledges or payments."""
