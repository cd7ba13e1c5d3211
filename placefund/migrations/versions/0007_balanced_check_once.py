"""Ledger: the balanced-entry check runs once per entry at commit, in one query.

The deferred check fires for the entry and for each of its postings (so that neither a lone
entry nor a posting added later escapes it). A two-leg entry was checked three times with
two queries each, at every commit: the biggest part of PostgreSQL's work per posting. Now
the first firing checks the entry with one query and remembers, for the rest of the
transaction, the entry and the highest posting id it saw; a later firing for the same entry
is skipped only if its posting was among those checked. A posting added after a check (say
after ``SET CONSTRAINTS ALL IMMEDIATE``) has a higher id (ids come from a sequence) and is
checked again, so the guarantee is unchanged.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHECK_ONCE = """
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  eid bigint;
  n bigint;
  top bigint;
  bad text;
  seen text := current_setting('placefund.balanced_checked', true);
BEGIN
  IF TG_TABLE_NAME = 'ledger_entries' THEN
    eid := NEW.id;
  ELSE
    eid := NEW.entry_id;
  END IF;
  IF seen IS NOT NULL AND seen <> '' AND split_part(seen, ':', 1)::bigint = eid
     AND (TG_TABLE_NAME = 'ledger_entries' OR NEW.id <= split_part(seen, ':', 2)::bigint) THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(sum(t.n), 0), max(t.top), min(t.currency) FILTER (WHERE t.total <> 0)
    INTO n, top, bad
    FROM (SELECT currency, count(*) AS n, max(id) AS top, sum(amount) AS total
            FROM ledger_postings WHERE entry_id = eid GROUP BY currency) AS t;
  IF n < 2 THEN
    RAISE EXCEPTION 'entry % has % postings; at least two are required', eid, n
      USING ERRCODE = 'check_violation';
  END IF;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'entry % does not balance in %', eid, bad USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('placefund.balanced_checked', eid || ':' || top, true);
  RETURN NULL;
END $$;
"""

#: The function as migration 0001 created it (two queries, every firing)
CHECK_EVERY_TIME = """
CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  eid bigint;
  n int;
  bad text;
BEGIN
  IF TG_TABLE_NAME = 'ledger_entries' THEN
    eid := NEW.id;
  ELSE
    eid := NEW.entry_id;
  END IF;
  SELECT count(*) INTO n FROM ledger_postings WHERE entry_id = eid;
  IF n < 2 THEN
    RAISE EXCEPTION 'entry % has % postings; at least two are required', eid, n
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT currency INTO bad FROM ledger_postings WHERE entry_id = eid
    GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'entry % does not balance in %', eid, bad USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_ONCE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CHECK_EVERY_TIME)
