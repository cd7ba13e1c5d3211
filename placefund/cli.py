"""The ``placefund`` command line: database, demo data, server, ledger checks."""

from __future__ import annotations

import os
import sys

import click
from sqlalchemy import func, select

from foundation.settings import Settings


class DatabaseUnusable(click.ClickException):
    """The database URL is unreadable, or the database cannot be reached or is not migrated:
    one line and exit status 2, never a driver's traceback."""

    exit_code = 2


class SettingsUnusable(click.ClickException):
    """A variable of the environment holds a value the service cannot use: one line naming
    it and exit status 2, before the command does anything (never a traceback later)."""

    exit_code = 2


def _read_settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise SettingsUnusable(str(exc)) from exc


def _settings() -> Settings:
    """The settings read when the command line started (``main``); a command group used on
    its own (``match``, in tests) reads them on first use."""
    context = click.get_current_context(silent=True)
    found = context.find_object(Settings) if context is not None else None
    return found if found is not None else _read_settings()


def _database(*, migrated: bool = True):
    """The configured database, connected once to prove it usable; when ``migrated``, also
    at the newest revision this code knows (every command but ``db upgrade`` needs that)."""
    from sqlalchemy.exc import SQLAlchemyError

    from placefund.app import Database
    from placefund.doctor import database_problem

    url = _settings().database_url
    try:
        database = Database(url)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        raise DatabaseUnusable(database_problem(url, exc)) from exc
    # Connections closed when the command ends, not left to the garbage collector
    click.get_current_context().call_on_close(database.engine.dispose)
    try:
        with database.engine.connect():
            pass
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnusable(database_problem(url, exc)) from exc
    if migrated:
        from placefund.doctor import check_database

        problems = check_database(_settings())
        if problems:
            raise DatabaseUnusable(problems[0])
    return database


@click.group()
@click.pass_context
def main(context: click.Context) -> None:
    """地方創生基金 placefund: the place-creation fund service."""
    # Once, before any command: a bad variable stops every one of them the same way
    context.obj = _read_settings()


@main.command()
def doctor() -> None:
    """Check the database, the receipt font, Stripe and the secret key; each problem is one
    line with its fix; exit status 1 when there is any."""
    from placefund.doctor import diagnose

    total = 0
    for name, problems in diagnose(_settings()):
        if not problems:
            click.echo(f"ok       {name}")
        for problem in problems:
            click.echo(f"PROBLEM  {name}: {problem}")
        total += len(problems)
    if total:
        click.echo(f"{total} problem{'s' if total > 1 else ''} found.", err=True)
        sys.exit(1)
    click.echo("Ready.")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema (SQLite by default, PostgreSQL when DATABASE_URL is set)."""
    from placefund.migrate import upgrade

    database = _database(migrated=False)
    upgrade(database.engine, revision)
    click.echo(
        f"Database at {database.engine.url.render_as_string(hide_password=True)} is up to date."
    )


@main.command()
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has data.")
def demo(if_empty: bool) -> None:
    """Load realistic demo data into an empty database."""
    from identity.models import Organisation
    from placefund.demo import load_demo

    database = _database()
    with database.session() as session:
        if session.scalar(select(func.count(Organisation.id))):
            if if_empty:
                click.echo("The database already has data; demo data not loaded.")
                return
            raise click.ClickException(
                "The database is not empty; demo data goes into an empty one."
            )
    summary = load_demo(database, echo=click.echo, settings=_settings())
    click.echo(summary)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option(
    "--threads",
    default=2,
    show_default=True,
    type=int,
    help="threads per worker (2 workers x 2 threads served a 2-core machine best)",
)
@click.option(
    "--access-log/--no-access-log", default=True, show_default=True, help="JSON access lines"
)
@click.option(
    "--with-worker",
    is_flag=True,
    help="Also run `placefund worker` (jobs and sealing) as a supervised child: one command "
    "for a single machine. In production run the worker as a process of its own.",
)
def serve(
    host: str, port: int, workers: int, threads: int, access_log: bool, with_worker: bool
) -> None:
    """Serve the app with gunicorn (a production WSGI server). Background jobs and sealing
    need a `placefund worker` (or --with-worker)."""
    from foundation.settings import instance_secret_key
    from placefund.doctor import diagnose
    from placefund.server import run

    settings = _settings()  # refuse a bad setting here, not in every worker gunicorn boots
    for name, problems in diagnose(settings):
        for problem in problems:
            click.echo(f"Warning ({name}): {problem}", err=True)
    if not settings.secret_key:
        # Made now, before gunicorn forks: every worker then reads the same key
        try:
            instance_secret_key(settings.instance)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"No SECRET_KEY and no instance key: {exc}") from exc
    also = " and a background worker" if with_worker else ""
    click.echo(f"Serving on http://{host}:{port} with {workers} workers{also}")
    run(
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        access_log=access_log,
        settings=settings,
        with_worker=with_worker,
    )


@main.command()
@click.option("--threads", default=2, show_default=True, type=int, help="Jobs run at once")
@click.option("--no-seal", is_flag=True, help="Leave sealing to other workers.")
@click.option("--no-schedule", is_flag=True, help="Run no periodic work (the minute's sweep).")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve /metrics (Prometheus' text format: this worker's donations, postings and "
    "jobs) on this port. None (the default): no endpoint.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address of the /metrics endpoint. One other than this machine's loopback needs "
    "PLACEFUND_METRICS_TOKEN.",
)
# `placefund serve --with-worker` passes its own pid: the worker stops when the server dies
@click.option("--parent-pid", type=int, hidden=True)
def worker(
    threads: int,
    no_seal: bool,
    no_schedule: bool,
    metrics_port: int | None,
    metrics_host: str,
    parent_pid: int | None,
) -> None:
    """Run background jobs (imports, Stripe, statements, match runs) and seal the ledger."""
    if parent_pid is not None:
        _stop_with_parent(parent_pid)
    from foundation.logs import configure
    from jobs import worker as job_worker
    from jobs.runner import JobId
    from placefund.app import job_services

    if threads < 1:
        raise click.BadParameter("at least 1", param_hint="--threads")
    settings = _settings()
    # Before the database: a wrong option is said at once, whatever the database's state
    endpoint = _metrics_endpoint(metrics_host, metrics_port, settings.metrics_token)
    database = _database()
    # JSON lines like the server's, marked as the worker's, each with the job it is about
    configure("worker", filters=[JobId()])
    try:
        job_worker.run(
            database,
            job_services(settings),
            threads=threads,
            seal=not no_seal,
            periodic=not no_schedule,
        )
    finally:
        if endpoint is not None:
            endpoint.shutdown()
            endpoint.server_close()


def _metrics_endpoint(host: str, port: int | None, token: str | None):
    """The worker's /metrics (placefund/metrics_endpoint.py), listening before the worker
    starts, or None without ``--metrics-port``. A wrong address is the option's error (exit
    status 2), never a traceback from a thread."""
    import errno

    from placefund import metrics_endpoint

    source = click.get_current_context().get_parameter_source("metrics_host")
    if port is None:
        if source is not None and source.name != "DEFAULT":
            raise click.BadParameter(
                "only has a meaning with --metrics-port", param_hint="--metrics-host"
            )
        return None
    try:
        loopback = metrics_endpoint.is_loopback_host(host)
    except OSError as exc:
        raise click.BadParameter(
            f"{host} is neither an address nor a name that resolves", param_hint="--metrics-host"
        ) from exc
    if token is None and not loopback:
        # Without a token only this machine may read the metrics (as the server's /metrics):
        # listening elsewhere would only answer 404 to the scraper
        raise click.BadParameter(
            f"{host} is not this machine's loopback address: set PLACEFUND_METRICS_TOKEN "
            "(the scraper then shows it as a bearer token) or listen on 127.0.0.1",
            param_hint="--metrics-host",
        )
    try:
        return metrics_endpoint.serve(host, port, token=token)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.BadParameter(
                f"port {port} on {host} is in use by another process; choose a free one",
                param_hint="--metrics-port",
            ) from exc
        if exc.errno == errno.EACCES:
            raise click.BadParameter(
                f"port {port} needs privileges this process does not have; choose one above 1023",
                param_hint="--metrics-port",
            ) from exc
        raise click.BadParameter(
            f"cannot listen on {host}: {exc.strerror or exc}", param_hint="--metrics-host"
        ) from exc


def _stop_with_parent(parent_pid: int) -> None:
    """Have the kernel send SIGTERM (a clean stop) when the parent dies (Linux), so a server
    killed outright leaves no worker behind; exit at once if it is already gone."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the server's on_exit stops us as usual
        return
    if os.getppid() != parent_pid:
        raise SystemExit(0)


@main.group()
def jobs() -> None:
    """Background jobs: list them, retry a failed one, cancel one."""


def _job_line(job) -> str:
    progress = f"{job.progress_done:,}" + (
        f"/{job.progress_total:,}" if job.progress_total is not None else ""
    )
    error = f"  {job.error_code}" if job.error_code else ""
    when = job.created_at.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{job.id:>8}  {job.kind:<20} {job.status:<10} {job.phase:<12} {progress:>15}  "
        f"{job.attempts}/{job.max_attempts}  {when}{error}"
    )


@jobs.command("list")
@click.option(
    "--status",
    type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled"]),
    help="Only jobs in this state",
)
@click.option("--kind", help="Only jobs of this kind (bank_import, stripe_sync...)")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
def jobs_list(status: str | None, kind: str | None, limit: int) -> None:
    """The newest jobs: id, kind, status, phase, progress, attempts, created (UTC), error."""
    from jobs.models import Job

    database = _database()
    with database.session() as session:
        query = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            query = query.where(Job.status == status)
        if kind:
            query = query.where(Job.kind == kind)
        rows = list(session.scalars(query))
        click.echo(
            f"{'id':>8}  {'kind':<20} {'status':<10} {'phase':<12} {'progress':>15}  "
            "tries  created (UTC)"
        )
        for job in rows:
            click.echo(_job_line(job))
        if not rows:
            click.echo("No jobs.")


def _job_step(step, job_id: int, *, enqueue: bool):
    from foundation.errors import LedgerError
    from jobs.queue import Queue

    database = _database()
    try:
        with database.session() as session, session.begin():
            job = step(session, job_id)
            line = _job_line(job)
    except LedgerError as exc:
        raise click.ClickException(exc.detail) from exc
    if enqueue:
        queue = Queue(database)
        queue.enqueue_quietly(job_id)
        queue.close()
    click.echo(line)


@jobs.command("retry")
@click.argument("job_id", type=click.IntRange(1, 2**63 - 1))
def jobs_retry(job_id: int) -> None:
    """Run a failed or cancelled job again (its attempts counted afresh)."""
    from jobs import records

    _job_step(records.retry, job_id, enqueue=True)


@jobs.command("cancel")
@click.argument("job_id", type=click.IntRange(1, 2**63 - 1))
def jobs_cancel(job_id: int) -> None:
    """Cancel a queued job, or stop a running one at its next checkpoint (rolled back)."""
    from jobs import records

    _job_step(records.cancel, job_id, enqueue=False)


@main.group()
def token() -> None:
    """API tokens (shown once; only their SHA-256 is stored)."""


@token.command("create")
@click.option("--email", required=True, help="The user the token is for")
@click.option("--name", default="cli", show_default=True, help="What the token is for")
def token_create(email: str, name: str) -> None:
    """Issue an API token for a user and print it (it cannot be shown again)."""
    from identity.models import User
    from identity.tokens import issue_token

    database = _database()
    with database.session() as session, session.begin():
        user = session.scalars(select(User).where(User.email == email.lower())).one_or_none()
        if user is None:
            raise click.ClickException(f"No user with email {email}.")
        row, plain = issue_token(session, user, name=name)
    click.echo(f"Token {row.id} ({row.prefix}...) for {email}:")
    click.echo(plain)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke an API token by id."""
    from identity.models import ApiToken
    from identity.tokens import revoke_token

    database = _database()
    with database.session() as session, session.begin():
        row = session.get(ApiToken, token_id)
        if row is None:
            raise click.ClickException(f"No token {token_id}.")
        revoke_token(session, row, None)
    click.echo(f"Token {token_id} revoked.")


@main.group()
def ledger() -> None:
    """The ledger's tamper evidence."""


@ledger.command("seal")
@click.option("--follow", is_flag=True, help="Keep sealing new entries until stopped.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between rounds.")
def ledger_seal(follow: bool, interval: float) -> None:
    """Seal committed entries that are not yet in the hash chain."""
    from ledger.books.chain import seal_continuously, seal_pending

    database = _database()
    if follow:
        from foundation.logs import configure

        # A sealer on its own (a worker also seals, in a thread): its lines are JSON like
        # the server's, marked as the sealer's
        configure("sealer")
        # Survives dropped connections and database restarts (backoff, then catch up)
        seal_continuously(database.session, interval=interval)
        return
    with database.session() as session, session.begin():
        count = seal_pending(session, wait=True)
    click.echo(f"Sealed {count} entries.")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@ledger.command("verify")
@click.option(
    "--no-seal", is_flag=True, help="Verify only what is sealed; do not seal pending entries first."
)
def ledger_verify(no_seal: bool) -> None:
    """Recompute the hash chain and every balance from the postings; exit 1 on any mismatch."""
    from ledger.books.chain import seal_pending, unsealed_backlog, verify
    from ledger.books.models import Seal, Unsealed

    database = _database()
    if not no_seal:
        with database.session() as session, session.begin():
            # Said before sealing: a backlog here means the sealer had fallen behind
            backlog = unsealed_backlog(session)
            sealed = seal_pending(session, wait=True)
        if sealed:
            click.echo(
                f"Sealed {sealed} entries that were waiting; the oldest had waited "
                f"{_duration(backlog.age_seconds())} (a running server's sealer should keep "
                "this near zero)."
            )
    with database.session() as session:
        total = session.scalar(select(func.count()).select_from(Seal))
        pending = session.scalar(select(func.count()).select_from(Unsealed))
        with click.progressbar(length=total, label="Verifying entries", file=sys.stderr) as bar:
            report = verify(session, progress=bar.update)
    click.echo(
        f"Checked {report.entries} entries and {report.postings} postings; {pending} unsealed."
    )
    if not report.ok:
        click.echo(
            f"LEDGER VERIFICATION FAILED: first bad entry {report.first_bad_entry}", err=True
        )
        for problem in report.problems[:50]:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    click.echo("Ledger verified: hash chain intact, every entry balances, balances match postings.")


# --- payments and reconciliation (issue 4) ---------------------------------------------------


@main.group()
def stripe() -> None:
    """Stripe: catch up with events the webhooks missed."""


@stripe.command("sync")
@click.option(
    "--since", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (Taiwan time)"
)
def stripe_sync(since) -> None:
    """Read events and balance transactions since a date and apply whatever is missing."""
    from foundation.errors import LedgerError
    from ledger.payments.card_payments import sync
    from ledger.payments.stripe_gateway import StripeGateway

    database = _database()
    try:
        report = sync(database.session, StripeGateway(_settings().stripe), since.date())
    except LedgerError as exc:
        raise click.ClickException(exc.detail) from exc
    click.echo(
        f"Events: {report.events_seen} seen, {report.events_applied} applied, "
        f"{report.events_ignored} ignored, {report.duplicates} already stored, "
        f"{report.needs_attention} need attention. Balance transactions: "
        f"{report.transactions_seen} seen, {report.objects_applied} objects applied."
    )
    for problem in report.problems[:50]:
        click.echo(f"  - {problem}", err=True)
    if report.problems:
        sys.exit(1)


@main.group()
def reconcile() -> None:
    """Reconcile the ledger with Stripe and with the bank statement."""


def _print_run(run) -> None:
    import json

    click.echo(f"Run {run.id} ({run.kind}{', dry run' if run.dry_run else ''}):")
    for key, value in json.loads(run.summary).items():
        click.echo(f"  {key}: {value}")
    click.echo("OK" if run.ok else "DIFFERENCES FOUND (see the run's results)")


@reconcile.command("stripe")
@click.option("--payout", help="A Stripe payout id (po_...): its balance transactions")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day")
@click.option("--dry-run", is_flag=True, help="Store the findings; mark no line matched")
def reconcile_stripe(payout, start, end, dry_run) -> None:
    """Import Stripe balance transactions and match them to the ledger; check payouts."""
    import datetime as dt

    from ledger.payments.stripe_gateway import StripeGateway
    from ledger.reconciliation import runs as reconciliation_runs

    if not payout and not start:
        raise click.UsageError("Give --payout or --from.")
    start_d = start.date() if start else None
    end_d = end.date() if end else None

    def ts(day):
        return int(dt.datetime.combine(day, dt.time(), reconciliation_runs.TAIWAN).timestamp())

    gateway = StripeGateway(_settings().stripe)
    transactions = gateway.list_balance_transactions(
        payout=payout,
        created_gte=ts(start_d) if start_d else None,
        created_lt=ts(end_d + dt.timedelta(days=1)) if end_d else None,
    )
    from foundation.errors import LedgerError

    fetched = []
    try:
        with click.progressbar(transactions, label="Reading from Stripe", file=sys.stderr) as bar:
            fetched.extend(bar)
    except LedgerError as exc:
        raise click.ClickException(exc.detail) from exc
    database = _database()
    with database.session() as session, session.begin():
        report = reconciliation_runs.import_stripe_transactions(
            session,
            fetched,
            name=f"payout={payout}" if payout else f"{start_d}..{end_d}",
            payout=payout,
        )
        click.echo(f"Imported {report.lines_new} new of {report.lines_read} transactions.")
        run = reconciliation_runs.run_stripe(
            session,
            import_id=None if (payout or start_d) else report.import_id,
            payout=payout,
            start=start_d,
            end=end_d,
            dry_run=dry_run,
        )
        _print_run(run)


@reconcile.command("bank")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", default="tw_bank", show_default=True, help="tw_bank or generic")
@click.option(
    "--mapping-file",
    type=click.Path(exists=True, dir_okay=False),
    help='JSON column mapping, e.g. {"date": "日期", "deposit": "存入", ...}',
)
@click.option("--encoding", help="utf-8 or big5 (default: detected)")
@click.option("--account", default="assets:bank:main", show_default=True)
@click.option("--skip-bad-lines", is_flag=True, help="Import the good lines despite errors")
@click.option("--dry-run", is_flag=True, help="Store the findings; change nothing else")
@click.option("--date-tolerance", default=3, show_default=True, type=int, help="Days")
@click.option("--amount-tolerance", default=0, show_default=True, type=int, help="Minor units")
def reconcile_bank(
    file,
    mapping,
    mapping_file,
    encoding,
    account,
    skip_bad_lines,
    dry_run,
    date_tolerance,
    amount_tolerance,
) -> None:
    """Import a bank statement CSV and match its lines to the ledger."""
    import json
    from pathlib import Path

    from foundation.errors import LedgerError
    from ledger.books import chart
    from ledger.fund import common
    from ledger.reconciliation import runs as reconciliation_runs

    try:  # TWD enters in whole dollars here too (the tolerance is in minor units)
        currency = chart.spec_for(account).currency
    except LedgerError as error:
        raise click.BadParameter(error.detail, param_hint="--account") from error
    if amount_tolerance < 0 or (currency == "TWD" and amount_tolerance % 100):
        raise click.BadParameter(
            "must be zero or more, and for TWD whole dollars: a multiple of 100 minor units "
            f"(NT$1 is 100), not {amount_tolerance}",
            param_hint="--amount-tolerance",
        )
    from ledger.reconciliation.bank_files import StatementHasErrors
    from ledger.reconciliation.rules import ReconcileConfig

    spec = json.loads(Path(mapping_file).read_text()) if mapping_file else mapping
    data = Path(file).read_bytes()
    database = _database()
    with database.session() as session:
        try:
            with session.begin():
                with click.progressbar(
                    length=max(data.count(b"\n"), 1), label="Importing", file=sys.stderr
                ) as bar:
                    report = reconciliation_runs.import_bank_statement(
                        session,
                        data,
                        mapping=reconciliation_runs.mapping_from(spec),
                        encoding=encoding,
                        account=account,
                        name=Path(file).name,
                        skip_bad_lines=skip_bad_lines,
                        progress=bar.update,
                        scheme=common.va_scheme(_settings()),
                    )
                click.echo(
                    f"Imported {report.lines_new} new lines of {report.lines_read} "
                    f"({report.duplicates} already imported, {len(report.errors)} skipped)."
                )
                run = reconciliation_runs.run_bank(
                    session,
                    import_id=report.import_id,
                    config=ReconcileConfig(
                        date_tolerance_days=date_tolerance, amount_tolerance=amount_tolerance
                    ),
                    dry_run=dry_run,
                )
                _print_run(run)
        except StatementHasErrors as exc:
            click.echo(
                "Nothing imported: malformed lines (use --skip-bad-lines to import the rest):",
                err=True,
            )
            for messages in exc.fields.values():
                for message in messages:
                    click.echo(f"  {message}", err=True)
            sys.exit(2)


from matching.cli import _StageBars, match  # noqa: E402  (the pure `match solve` lives there)

main.add_command(match)


@match.command("run")
@click.option(
    "--params",
    "params_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file with run parameters (k, weights, min_priority_share...).",
)
@click.option("--publish", is_flag=True, help="Publish the proposals at once (scheduled runs).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def match_run(params_file: str | None, publish: bool, quiet: bool) -> None:
    """Run the matcher over the database: every active offer and request of verified
    organisations; proposals wait for review unless --publish. Suitable for cron."""
    import json
    from pathlib import Path

    from foundation.errors import LedgerError
    from matching import services as matching_services
    from matching.errors import MatchingError

    params = json.loads(Path(params_file).read_text(encoding="utf-8")) if params_file else {}
    database = _database()
    bars = _StageBars(enabled=not quiet)
    try:
        with database.session() as session, session.begin():
            run = matching_services.start_run(session, actor=None, params=params, progress=bars)
            if publish:
                system = _system_manager(session)
                matching_services.publish_run(session, actor=system, run_id=run.id)
    except (LedgerError, MatchingError) as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        bars.close()
    state = "published" if publish else "waiting for review"
    click.echo(
        f"Match run {run.id}: {len(run.proposals)} proposals ({run.solver_status}, "
        f"total score {run.total_score}, bound {run.bound}); {state}."
    )


def _system_manager(session):
    """The admin account that publishes scheduled runs (the first admin user)."""
    from identity.models import User

    admin = session.scalars(select(User).where(User.role == "admin").order_by(User.id)).first()
    if admin is None:
        raise click.ClickException("No admin user exists to publish the run; review it instead.")
    return admin


# Last, once every command group is registered (``python -m placefund.cli``; ``python -m
# placefund`` is placefund/__main__.py)
if __name__ == "__main__":  # pragma: no cover
    main(prog_name="placefund")
