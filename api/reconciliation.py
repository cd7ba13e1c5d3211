"""Reconciliation for fund managers: import statements, run the rules, decide line by line."""

from __future__ import annotations

import base64
import binascii
import json

import marshmallow as ma
from marshmallow import fields, validate
from sqlalchemy import select

from api import job_schemas, schemas
from api.auth import requires
from api.common import Blueprint, decode_cursor, errors, page_out, user
from api.jobs import accepted
from api.webhooks import gateway
from foundation.errors import NotFound
from foundation.transactions import atomic
from identity.roles import MANAGERS
from jobs import records
from jobs.kinds import bank_import
from jobs.kinds import stripe as stripe_jobs
from ledger import listings
from ledger.payments.stripe_gateway import StripeNotConfigured
from ledger.reconciliation import queue
from ledger.reconciliation import runs as reconciliation_runs
from ledger.reconciliation.models import (
    LINE_SOURCES,
    LINE_STATES,
    RUN_KINDS,
    ReconciliationRun,
    StatementLine,
)
from ledger.reconciliation.rules import ReconcileConfig
from web.problems import ApiError
from web.request import db_session

blp = Blueprint(
    "reconciliation",
    __name__,
    url_prefix="/api/v1/reconciliation",
    description="Reconcile the ledger with Stripe and the bank statement.",
)


# --- schemas ---------------------------------------------------------------------------------


class BankStatementImportIn(schemas.Strict):
    content = fields.String(
        required=True,
        # base64 of a statement up to 24 MB; the request limit for this endpoint is 32 MB
        validate=validate.Length(min=1, max=32_000_000),
        metadata={"description": "The CSV file, base64-encoded (UTF-8 or Big5), up to 24 MB"},
    )
    filename = fields.String(load_default="statement.csv", validate=validate.Length(1, 255))
    mapping = fields.Raw(
        load_default="tw_bank",
        metadata={
            "description": "tw_bank, generic, or an object naming columns by header text, "
            'e.g. {"date": "日期", "deposit": "存入", "withdrawal": "支出", "balance": "餘額"}'
        },
    )
    encoding = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(("utf-8", "utf-8-sig", "big5", "cp950")),
        metadata={"description": "Default: detected"},
    )
    account = fields.String(load_default="assets:bank:main", validate=validate.Length(1, 160))
    skip_bad_lines = schemas.StrictBoolean(
        load_default=False,
        metadata={"description": "Import the good lines even though some are malformed"},
    )


class StripeStatementImportIn(schemas.Strict):
    payout = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^po_[A-Za-z0-9_]{1,200}$")
    )
    start = fields.Date(load_default=None, allow_none=True, data_key="from")
    end = fields.Date(load_default=None, allow_none=True, data_key="to")


class StatementImportSchema(ma.Schema):
    id = fields.Integer()
    source = fields.String()
    name = fields.String()
    account = fields.String()
    mapping = fields.String()
    encoding = fields.String()
    lines_read = fields.Integer()
    lines_new = fields.Integer()
    lines_skipped_bad = fields.Integer()
    first_date = fields.Date(allow_none=True)
    last_date = fields.Date(allow_none=True)
    opening_balance = fields.Integer(allow_none=True)
    closing_balance = fields.Integer(allow_none=True)
    currency = fields.String()
    created_at = fields.DateTime()


class ReconciliationRunIn(schemas.Strict):
    kind = fields.String(required=True, validate=validate.OneOf(RUN_KINDS))
    import_id = schemas.Id(load_default=None, allow_none=True)
    payout = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^po_[A-Za-z0-9_]{1,200}$")
    )
    start = fields.Date(load_default=None, allow_none=True, data_key="from")
    end = fields.Date(load_default=None, allow_none=True, data_key="to")
    dry_run = schemas.StrictBoolean(load_default=False)
    date_tolerance_days = fields.Integer(
        strict=True, load_default=3, validate=validate.Range(0, 31)
    )
    amount_tolerance = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(0, 100_000),
        metadata={"description": "Minor units (bank fees deducted in transit)"},
    )


class ReconciliationResultSchema(ma.Schema):
    id = fields.Integer()
    outcome = fields.String()
    line_id = fields.Integer(allow_none=True)
    rule = fields.String(allow_none=True)
    targets = fields.String()
    confidence = fields.Float(allow_none=True)
    difference = fields.Integer(allow_none=True)
    detail = fields.String()
    detail_zh = fields.String()


class ReconciliationRunSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    import_id = fields.Integer(allow_none=True)
    dry_run = fields.Boolean()
    ok = fields.Boolean()
    params = fields.Method("_params")
    summary = fields.Method("_summary")
    stated_closing = fields.Integer(allow_none=True)
    ledger_closing = fields.Integer(allow_none=True)
    created_at = fields.DateTime()

    def _params(self, obj):
        return json.loads(obj.params or "{}")

    def _summary(self, obj):
        return json.loads(obj.summary or "{}")


class ReconciliationRunDetailSchema(ReconciliationRunSchema):
    results = fields.List(
        fields.Nested(ReconciliationResultSchema),
        metadata={"description": "One page of the run's findings, in the order they were made"},
    )
    next_cursor = fields.String(
        allow_none=True,
        metadata={"description": "Pass as cursor for the next page of findings; null on the last"},
    )


class ReconciliationRunArgs(schemas.PageArgs):
    kind = fields.String(load_default=None, validate=validate.OneOf(RUN_KINDS))


class ReconciliationResultArgs(ma.Schema):
    outcome = fields.String(load_default=None, validate=validate.Length(1, 32))
    limit = fields.Integer(
        load_default=500, validate=validate.Range(1, 1000), metadata={"description": "1 to 1000"}
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "next_cursor of the previous page"},
    )


class ReconciliationLineSchema(ma.Schema):
    id = fields.Integer()
    import_id = fields.Integer()
    source = fields.String()
    line_no = fields.Integer()
    date = fields.Date()
    amount = fields.Integer()
    currency = fields.String()
    memo = fields.String()
    counterparty = fields.String()
    balance = fields.Integer(allow_none=True)
    virtual_accounts = fields.String()
    external_id = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    fee = fields.Integer(allow_none=True)
    net = fields.Integer(allow_none=True)
    payout = fields.String(allow_none=True)
    status = fields.String()
    matched_to = fields.String()
    match_rule = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class ReconciliationLineArgs(schemas.PageArgs):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf((*LINE_STATES, "open")),
        metadata={"description": "open: unmatched or matched, i.e. waiting for a decision"},
    )
    source = fields.String(load_default=None, validate=validate.OneOf(LINE_SOURCES))
    import_id = fields.Integer(load_default=None, validate=validate.Range(1, schemas.MAX_ID))
    start = fields.Date(load_default=None, data_key="from", metadata={"description": "On or after"})
    end = fields.Date(load_default=None, data_key="to", metadata={"description": "On or before"})
    min_amount = fields.Integer(
        load_default=None,
        validate=validate.Range(0, 2**62),
        metadata={"description": "Minor units, compared with the line's size (sign ignored)"},
    )
    max_amount = fields.Integer(
        load_default=None,
        validate=validate.Range(0, 2**62),
        metadata={"description": "Minor units, compared with the line's size (sign ignored)"},
    )


class StatementLinePage(ma.Schema):
    items = fields.List(fields.Nested(ReconciliationLineSchema), required=True)
    next_cursor = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as cursor for the next page; null on the last"},
    )
    total = fields.Integer(
        required=True, metadata={"description": "Lines the filters select, on all pages"}
    )


class StatementLineConfirmIn(schemas.Strict):
    targets = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z_]{1,20}:[0-9]{1,18}$")),
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 20),
        metadata={
            "description": 'What the line matches, e.g. ["donation:12"]; default: '
            "the proposed match"
        },
    )
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 1000))


class StatementLineReasonIn(schemas.Strict):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))


# --- views -----------------------------------------------------------------------------------


@blp.route("/bank-statements", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 409, 413, 415, 422)
@blp.arguments(BankStatementImportIn)
@blp.response(202, job_schemas.JobSchema)
def import_bank_statement(data):
    """Import a bank statement CSV (base64) in the background; poll the job it answers with

    The file is checked at once (base64, size, layout) and imported and matched by a
    worker: 202 with the ``bank_import`` job and a ``Location`` to poll
    (``GET /api/v1/jobs/{id}``). Its result has import_id, run_id, lines_read, lines_new,
    duplicates, matched, suggested, unmatched, donations_recorded, bad_line_count and the
    first 500 bad_lines. Malformed lines fail the job (error code bank_statement_invalid,
    the lines in its result) and import nothing unless skip_bad_lines. Lines are stored
    once each by fingerprint, so importing a file (or an overlapping one) again adds
    nothing; the same file posted again while its job is unfinished answers that job.
    """
    try:
        raw = base64.b64decode(data["content"], validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "content is not base64.", fields={"content": ["not base64"]}) from None
    with atomic(db_session()) as session:
        job, created = bank_import.submit(
            session,
            data=raw,
            filename=data["filename"],
            mapping=data["mapping"],
            encoding=data["encoding"],
            account=data["account"],
            skip_bad_lines=data["skip_bad_lines"],
            actor_id=user().id,
        )
    return accepted(job, created=created)


@blp.route("/stripe-imports", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 413, 415, 422, 503)
@blp.arguments(StripeStatementImportIn, required=False)
@blp.response(202, job_schemas.JobSchema)
def import_stripe(data):
    """Import Stripe balance transactions for a payout or a date range (all pages), in the
    background: 202 with the job to poll; its result names the import and its counts"""
    if not data["payout"] and not data["start"]:
        raise ApiError(422, "Name a payout or a start date.", fields={"payout": ["or from"]})
    if data["start"] and data["end"] and data["end"] < data["start"]:
        raise ApiError(422, "to is before from.", fields={"to": ["on or after from"]})
    if not gateway().settings.secret_key:
        raise StripeNotConfigured("Card payments are not configured (STRIPE_SECRET_KEY).")
    params = {
        "payout": data["payout"],
        "start": data["start"].isoformat() if data["start"] else None,
        "end": data["end"].isoformat() if data["end"] else None,
    }
    with atomic(db_session()) as session:
        job, created = records.submit(
            session,
            "stripe_import",
            params=params,
            actor_id=user().id,
            dedupe_key=stripe_jobs.import_key(**params),
        )
    return accepted(job, created=created)


@blp.route("/runs", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@blp.arguments(ReconciliationRunIn)
@blp.response(201, ReconciliationRunSchema)
def create_run(data):
    """Run the matching rules (bank or Stripe); a dry run stores the run and changes nothing"""
    with atomic(db_session()) as session:
        if data["kind"] == "bank":
            run = reconciliation_runs.run_bank(
                session,
                import_id=data["import_id"],
                config=ReconcileConfig(
                    date_tolerance_days=data["date_tolerance_days"],
                    amount_tolerance=data["amount_tolerance"],
                ),
                dry_run=data["dry_run"],
                actor=user(),
            )
        else:
            run = reconciliation_runs.run_stripe(
                session,
                import_id=data["import_id"],
                payout=data["payout"],
                start=data["start"],
                end=data["end"],
                dry_run=data["dry_run"],
                actor=user(),
            )
        return run, 201


@blp.route("/runs", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(ReconciliationRunArgs, location="query")
@blp.response(200, schemas.page_schema(ReconciliationRunSchema, "ReconciliationRunPage"))
def list_runs(args):
    """Reconciliation runs, newest first"""
    stmt = select(ReconciliationRun)
    if args["kind"]:
        stmt = stmt.where(ReconciliationRun.kind == args["kind"])
    return page_out(
        listings.page(
            db_session(),
            stmt,
            ReconciliationRun.id,
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )


class _RunView:
    def __init__(self, run, results, next_cursor):
        self._run = run
        self.results = results
        self.next_cursor = next_cursor

    def __getattr__(self, name):
        return getattr(self._run, name)


@blp.route("/runs/<int:run_id>", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 404, 422)
@blp.arguments(ReconciliationResultArgs, location="query")
@blp.response(200, ReconciliationRunDetailSchema)
def get_run(args, run_id):
    """A run with a page of its findings (filter by outcome: matched, suggested...)"""
    session = db_session()
    run = session.get(ReconciliationRun, run_id)
    if run is None:
        raise NotFound(f"Reconciliation run {run_id} does not exist.")
    limit = args["limit"]
    results = reconciliation_runs.results_of(
        session, run_id, args["outcome"], limit=limit + 1, after=decode_cursor(args["cursor"])
    )
    more = len(results) > limit
    results = results[:limit]
    return _RunView(run, results, str(results[-1].id) if more else None)


@blp.route("/lines", methods=["GET"])
@requires(*MANAGERS)
@errors(400, 422)
@blp.arguments(ReconciliationLineArgs, location="query")
@blp.response(200, StatementLinePage)
def list_lines(args):
    """Imported statement lines (bank and Stripe) with their match status, newest first

    Filters: status (or open), source, import, date range and amount; ``total`` counts the
    lines the filters select.
    """
    line_filter = queue.LineFilter(
        status=args["status"] or "all",
        source=args["source"],
        start=args["start"],
        end=args["end"],
        amount_min=args["min_amount"],
        amount_max=args["max_amount"],
        import_id=args["import_id"],
    )
    session = db_session()
    stmt = select(StatementLine).where(*queue.conditions(line_filter))
    page = page_out(
        listings.page(
            session,
            stmt,
            StatementLine.id,
            limit=args["limit"],
            after=decode_cursor(args["cursor"]),
        )
    )
    return page | {"total": queue.count(session, line_filter)}


@blp.route("/lines/<bigid:line_id>/confirm", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@blp.arguments(StatementLineConfirmIn, required=False)
@blp.response(200, ReconciliationLineSchema)
def confirm_line(data, line_id):
    """Confirm a line's match (the proposed one, or the items you name)"""
    with atomic(db_session()) as session:
        return reconciliation_runs.confirm_line(
            session, line_id=line_id, targets=data["targets"], reason=data["reason"], actor=user()
        )


@blp.route("/lines/<bigid:line_id>/unmatch", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 413, 415, 422)
@blp.arguments(StatementLineReasonIn)
@blp.response(200, ReconciliationLineSchema)
def unmatch_line(data, line_id):
    """Undo a line's match or ignore, with a reason"""
    with atomic(db_session()) as session:
        return reconciliation_runs.unmatch_line(
            session, line_id=line_id, reason=data["reason"], actor=user()
        )


@blp.route("/lines/<bigid:line_id>/ignore", methods=["POST"])
@requires(*MANAGERS)
@errors(400, 404, 409, 413, 415, 422)
@blp.arguments(StatementLineReasonIn)
@blp.response(200, ReconciliationLineSchema)
def ignore_line(data, line_id):
    """Set a line aside (bank fee, internal transfer), with a reason"""
    with atomic(db_session()) as session:
        return reconciliation_runs.ignore_line(
            session, line_id=line_id, reason=data["reason"], actor=user()
        )
