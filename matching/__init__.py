"""Matching companies with local businesses (NetworkX)."""
