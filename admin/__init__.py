"""The fund managers' web console and the company and business pages (server-rendered)."""
