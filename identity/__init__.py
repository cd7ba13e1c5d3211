"""Who is who: organisations, their users, API tokens, passwords and reset links, roles.

Both faces (the API and the console) and the domain packages read identity from here; it
imports no Flask and nothing of the faces, and the ledger may import it (not the reverse).
"""
