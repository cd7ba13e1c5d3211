"""Words for the codes the ledger, the matcher and reconciliation store, in both languages.

The domain keeps stable codes (``disbursement_reserve``, ``bank_transfer``,
``net_assets:restricted:county:10002``, ``stripe_payout:1``, ``min_priority_share``); people
read words. This is the one place that turns a code into words in the reader's language:
templates reach it through filters (admin/filters.py), messages through admin/messages.py.
An unknown code falls back to a readable form of itself, never to nothing.

Every lookup runs per request (``gettext``, not strings made at import time), so the
language is the reader's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

from flask import g, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _

from foundation.errors import LedgerError
from foundation.reference import counties, townships
from identity import models as identity_models
from identity.models import Organisation
from ledger.books import models as book_models
from ledger.books.chart import spec_for
from ledger.fund import models as fund_models
from ledger.money import format_money
from ledger.payments import models as payment_models
from ledger.reconciliation import models as reconciliation_models
from matching import models as matching_models
from web.request import db_session


def english() -> bool:
    return str(get_locale() or "").startswith("en")


def fund_name() -> str:
    """The fund's name in the reader's language (settings: PLACEFUND_FUND_NAME[_EN])."""
    from flask import current_app

    settings = current_app.config["SETTINGS"]
    if english():
        return getattr(settings, "fund_name_en", "") or settings.fund_name
    return settings.fund_name


#: What produces a ledger entry (``Entry.kind``, the posting's operation)
ENTRY_KINDS = (
    "pledge",
    "donation",
    "refund",
    "dispute_funds_withdrawn",
    "dispute_funds_reinstated",
    "payout",
    "disbursement_reserve",
    "disbursement_pay",
    "revenue_report",
    "revenue_return",
    "reversal",
    "adjustment",
)


def per_language(build: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str]]:
    """A catalogue of words built once per request and language, not once per lookup.

    A catalogue is a hundred ``gettext`` calls, each a walk through Flask-Babel's context:
    built for every ``|state`` of a page listing 200 payments and 50 proposals it was most
    of the page's time (issue 17: /console/company). The words still come from the
    request's own language (the key), so a page that switches language mid-request, or a
    test that renders in both, gets each language's words.
    """

    @wraps(build)
    def cached() -> dict[str, str]:
        if not has_request_context():
            return build()
        store = g.setdefault("_label_catalogues", {})
        key = (build.__name__, str(get_locale() or ""))
        found = store.get(key)
        if found is None:
            found = store[key] = build()
        return found

    return cached


# --- plain codes --------------------------------------------------------------------------


@per_language
def _names() -> dict[str, str]:
    return {
        # disbursements, pledges, proposals
        "reserved": _("Awaiting approval and payment"),
        "paid": _("Paid"),
        "voided": _("Voided"),
        "open": _("Open"),
        "grant": _("Grant"),
        "investment": _("Investment"),
        "proposed": _("Under review"),
        "published": _("Awaiting answers"),
        "accepted": _("Accepted"),
        "declined": _("Declined"),
        "superseded": _("Superseded"),
        "reviewing": _("Under review"),
        "pending": _("Not answered yet"),
        # organisations and roles
        "company": _("Company"),
        "business": _("Local business"),
        "institution": _("Fund institution"),
        "company_member": _("Company member"),
        "business_member": _("Business member"),
        "fund_manager": _("Fund manager"),
        "admin": _("Administrator"),
        # donation channels
        "stripe": _("Card (Stripe)"),
        "bank_transfer": _("Bank transfer"),
        "other": _("Other"),
        # partnership kinds and score components
        "sponsorship": _("Sponsorship"),
        "product_development": _("Product development"),
        "kind": _("Kind"),
        "industry": _("Industry"),
        "region": _("Region"),
        "amount": _("Amount"),
        "overlap": _("Shared goals"),
        "priority": _("Priority area"),
        # the matcher's constraints, parameters and solver outcomes
        "capacity": _("Capacity"),
        "budget": _("Budget"),
        "min_priority_share": _("Minimum share in priority areas"),
        "k": _("Candidates kept per request"),
        "priority_weights": _("Priority-area weight (points)"),
        "min_score": _("Minimum score"),
        "time_limit": _("Time limit (seconds)"),
        "mip_gap": _("Accepted optimality gap"),
        "optimal": _("Best possible"),
        "feasible": _("Good, not proven best"),
        # reconciliation
        "unmatched": _("Unmatched"),
        "matched": _("Matched, to confirm"),
        "confirmed": _("Confirmed"),
        "ignored": _("Ignored"),
        "suggested": _("Suggested"),
        # (a job's outcome is named per kind: admin/job_figures.py)
        "bank": _("Bank"),
        "unmatched_line": _("No ledger item"),
        "unmatched_item": _("Not on the statement"),
        "virtual_account": _("Virtual account"),
        "reference": _("Reference in the memo"),
        "amount_date": _("Amount and date"),
        "one_to_many": _("One line, several items"),
        "tw_bank": _("Taiwanese bank export"),
        "generic": _("Generic (date, amount, balance)"),
        # import jobs
        "queued": _("Waiting"),
        "running": _("Running"),
        "succeeded": _("Finished"),
        "failed": _("Failed"),
        "cancelled": _("Cancelled"),
        # ledger entry kinds
        "pledge": _("Pledge"),
        "donation": _("Donation"),
        "refund": _("Refund"),
        "dispute_funds_withdrawn": _("Dispute: funds withdrawn"),
        "dispute_funds_reinstated": _("Dispute: funds reinstated"),
        "payout": _("Stripe payout"),
        "stripe_payout": _("Stripe payout"),
        "disbursement": _("Disbursement"),
        "disbursement_reserve": _("Disbursement reserved"),
        "disbursement_pay": _("Disbursement paid"),
        "revenue_report": _("Revenue reported"),
        "revenue_return": _("Revenue returned"),
        "reversal": _("Reversal"),
        "adjustment": _("Adjustment"),
        "entry": _("Entry"),
        # account types
        "asset": _("Asset"),
        "liability": _("Liability"),
        "net_assets": _("Net assets"),
        "income": _("Income"),
        "expense": _("Expense"),
        # external references on entries
        "payment_intent": _("Stripe payment"),
        "charge": _("Stripe charge"),
        "balance_transaction": _("Stripe balance transaction"),
        "refund_id": _("Stripe refund"),
        "dispute": _("Stripe dispute"),
        "bank_line": _("Bank statement line"),
    }


def label(code: str | None) -> str:
    """The words for a status, kind, role, channel, entry kind, account type or parameter."""
    if not code:
        return "—"
    found = _names().get(code)
    if found is not None:
        return found
    # Something new the catalogue does not know yet: at least no underscores
    return code.replace("_", " ")


# --- background jobs ------------------------------------------------------------------------


@per_language
def _job_kinds() -> dict[str, str]:
    # A kind's name is a code (jobs/kinds/); the jobs page says what the job does
    return {
        "bank_import": _("Bank statement import"),
        "stripe_event": _("Stripe notification"),
        "stripe_sync": _("Stripe synchronisation"),
        "stripe_import": _("Stripe import"),
        "yearly_statements": _("Yearly donation statements"),
        "yearly_statements_part": _("Yearly donation statements (a part)"),
        "company_statement": _("A company's yearly statement"),
        "overdue_reminders": _("Overdue pledge reminders"),
        "match_run": _("Matching run"),
        "seal": _("Sealing the ledger"),
    }


def job_kinds() -> dict[str, str]:
    """Every kind of job the page names, by code (the kind filter's choices)."""
    return _job_kinds()


def job_kind(code: str | None) -> str:
    if not code:
        return "—"
    return _job_kinds().get(code) or code.replace("_", " ")


@per_language
def _job_phases() -> dict[str, str]:
    return {
        "queued": _("Waiting to start"),
        "waiting": _("Waiting to try again"),
        "starting": _("Starting"),
        "reading": _("Reading the file"),
        "importing": _("Storing the lines"),
        "matching": _("Matching against the ledger"),
        "fetching": _("Fetching from Stripe"),
        "applying": _("Recording"),
        "recording": _("Recording"),
        "rendering": _("Making the documents"),
        "numbering": _("Numbering the receipts"),
        "listing": _("Listing the overdue instalments"),
        "collecting": _("Reading offers and requests"),
        "scoring": _("Scoring the candidate pairs"),
        "saving": _("Saving the proposals"),
        "sending": _("Sending"),
        "solving": _("Solving"),
        "sealing": _("Sealing"),
        "done": _("Done"),
        "cancelled": _("Cancelled"),
    }


def job_phase(code: str | None) -> str:
    """Where a job is, in words; a kind's own phase the page does not know yet is at least
    shown without underscores."""
    if not code:
        return "—"
    return _job_phases().get(code) or code.replace("_", " ")


# --- places and purposes ------------------------------------------------------------------


PRIORITY_NAMES = {
    "agricultural": ("農山漁村", "Agricultural, mountain and fishing villages"),
    "intermediate": ("中介城鎮", "Intermediate towns"),
    "indigenous": ("原鄉", "Indigenous townships"),
}


def county_name(code: str | None) -> str:
    if not code:
        return "—"
    names = counties().get(code)
    if names is None:
        return code
    return names[1] if english() else names[0]


def town_name(code: str | None) -> str:
    """A township with its county: 南投縣 竹山鎮, or Zhushan Township, Nantou County."""
    if not code:
        return "—"
    town = townships().get(code)
    if town is None:
        return code
    if english():
        return f"{town.name_en}, {town.county_name_en}"
    return f"{town.county_name} {town.name}"


def priority_name(code: str | None) -> str:
    if not code:
        return "—"
    names = PRIORITY_NAMES.get(code)
    if names is None:
        return label(code)
    return names[1] if english() else names[0]


def _project_name(ident: str) -> str:
    project = _get("Project", ident)
    return project.name if project is not None else _("Project %(id)s", id=ident)


def purpose(restriction: str | None) -> str:
    """``county:10002`` as 宜蘭縣, ``priority:agricultural`` as 農山漁村; None as unrestricted."""
    if not restriction:
        return _("Unrestricted")
    kind, _sep, ident = restriction.partition(":")
    if kind == "county":
        return county_name(ident)
    if kind == "township":
        return town_name(ident)
    if kind == "priority":
        return priority_name(ident)
    if kind == "project":
        return _project_name(ident)
    return label(restriction)


# --- records looked up for their names ------------------------------------------------------


def _get(model: str, ident: str | int):
    """A record by id through the request's session (none outside a request)."""
    if not has_request_context() or not str(ident).isdigit():
        return None
    modules = (
        identity_models,
        book_models,
        fund_models,
        payment_models,
        reconciliation_models,
        matching_models,
    )
    cls = next((getattr(m, model) for m in modules if hasattr(m, model)), None)
    if cls is None:
        return None
    try:
        return db_session().get(cls, int(ident))
    except Exception:  # a label never breaks a page (a broken session shows the raw form)
        return None


def org_name(org) -> str:
    if org is None:
        return "—"
    return (org.name_en or org.name) if english() else org.name


def _company_named(name: str) -> str:
    """A company the books name by its (Chinese) name, in the reader's language."""
    if not english() or not has_request_context():
        return name
    from sqlalchemy import select

    try:
        org = (
            db_session()
            .scalars(select(Organisation).where(Organisation.name == name).limit(1))
            .first()
        )
    except Exception:  # a label never breaks a page
        return name
    return org_name(org) if org is not None else name


def _company(ident: str) -> str:
    org = _get("Organisation", ident)
    return org_name(org) if org is not None else _("Company %(id)s", id=ident)


def institution_name(code: str | None) -> str:
    """The institution an approval was given for (``User.institution``: the institution's
    short code, such as NDC or the county code 10002, or ``org:<id>`` for an organisation
    without one) as its name in the reader's language; a code no institution holds stays
    as it is, a code being all a page can say then."""
    if not code:
        return "—"
    kind, _, ident = code.partition(":")
    if kind == "org" and ident.isdigit():
        org = _get("Organisation", ident)
    elif not has_request_context():
        return code
    else:
        from sqlalchemy import select

        try:
            org = (
                db_session()
                .scalars(
                    select(Organisation)
                    .where(Organisation.kind == "institution")
                    .where(Organisation.institution_code == code)
                    .order_by(Organisation.id)
                    .limit(1)
                )
                .first()
            )
        except Exception:  # a label never breaks a page
            return code
    return org_name(org) if org is not None else code


# --- accounts -------------------------------------------------------------------------------

_ACCOUNT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^assets:bank:(?P<name>[a-z0-9_]+)(:(?P<cur>[A-Z]{3}))?$"), "bank"),
    (re.compile(r"^assets:stripe:clearing:(?P<cur>[A-Z]{3})$"), "clearing"),
    (re.compile(r"^assets:pledges_receivable:company:(?P<id>\d+)$"), "pledges_receivable"),
    (re.compile(r"^assets:returns_receivable:agreement:(?P<id>\d+)$"), "returns_receivable"),
    (re.compile(r"^assets:investments:project:(?P<id>\d+)$"), "investments"),
    (re.compile(r"^assets:disputes:(?P<cur>[A-Z]{3})$"), "disputes"),
    (
        re.compile(r"^liabilities:disbursements_payable:project:(?P<id>\d+)$"),
        "disbursements_payable",
    ),
    (re.compile(r"^income:donations$"), "donations"),
    (re.compile(r"^income:revenue_returns$"), "revenue_returns"),
    (re.compile(r"^expense:grants:project:(?P<id>\d+)$"), "grants"),
    (re.compile(r"^expense:fees:processor:(?P<cur>[A-Z]{3})$"), "fees"),
    (re.compile(r"^expense:adjustments$"), "adjustments"),
    (re.compile(r"^net_assets:unrestricted$"), "unrestricted"),
    (re.compile(r"^net_assets:restricted:(?P<purpose>[a-z]+:[a-z0-9_]+)$"), "restricted"),
    (re.compile(r"^net_assets:held:unrestricted$"), "held_unrestricted"),
    (re.compile(r"^net_assets:held:(?P<purpose>[a-z]+:[a-z0-9_]+)$"), "held"),
    (re.compile(r"^net_assets:exchange:(?P<cur>[A-Z]{3})$"), "exchange"),
]


def _agreement(ident: str) -> str:
    agreement = _get("ReturnAgreement", ident)
    project = _get("Project", agreement.project_id) if agreement and agreement.project_id else None
    if project is not None:
        return project.name
    return _("Agreement %(id)s", id=ident)


def account_name(code: str | None) -> str:
    """An account's name in the reader's language: 宜蘭縣 限定用途淨資產 for
    ``net_assets:restricted:county:10002``; the code itself only if the chart lacks it."""
    if not code:
        return "—"
    for pattern, what in _ACCOUNT_PATTERNS:
        m = pattern.match(code)
        if m is None:
            continue
        g_ = m.groupdict()
        cur = g_.get("cur") or ""
        if what == "bank":
            name = g_["name"]
            bank = (
                _("Main bank account") if name == "main" else _("Bank account %(name)s", name=name)
            )
            return f"{bank} {cur}".strip()
        if what == "clearing":
            return _("Stripe balance (%(cur)s)", cur=cur)
        if what == "pledges_receivable":
            return _("Pledges receivable: %(company)s", company=_company(g_["id"]))
        if what == "returns_receivable":
            return _("Revenue returns receivable: %(project)s", project=_agreement(g_["id"]))
        if what == "investments":
            return _("Investment: %(project)s", project=_project_name(g_["id"]))
        if what == "disputes":
            return _("Disputed card payments (%(cur)s)", cur=cur)
        if what == "disbursements_payable":
            return _("Disbursements payable: %(project)s", project=_project_name(g_["id"]))
        if what == "donations":
            return _("Donations received")
        if what == "revenue_returns":
            return _("Revenue returns received")
        if what == "grants":
            return _("Grants: %(project)s", project=_project_name(g_["id"]))
        if what == "fees":
            return _("Card processing fees (%(cur)s)", cur=cur)
        if what == "adjustments":
            return _("Adjustments")
        if what == "unrestricted":
            return _("Unrestricted net assets")
        if what == "restricted":
            return _("Restricted to %(purpose)s", purpose=purpose(g_["purpose"]))
        if what == "held_unrestricted":
            return _("Held for proposals awaiting approval: unrestricted money")
        if what == "held":
            return _(
                "Held for proposals awaiting approval: %(purpose)s", purpose=purpose(g_["purpose"])
            )
        if what == "exchange":
            return _("Currency exchange (%(cur)s)", cur=cur)
    return code


def assertions(text: str | None) -> list[tuple[str, str]]:
    """A closed period's stored balance assertions ("code=minor units" lines) as
    (account code, amount in NT$) pairs for display."""

    pairs = []
    for line in (text or "").splitlines():
        code, sep, amount = line.partition("=")
        if not sep or not amount.strip().lstrip("-").isdigit():
            continue
        try:
            currency = spec_for(code.strip()).currency
        except LedgerError:
            currency = "TWD"
        pairs.append((code.strip(), format_money(int(amount), currency)))
    return pairs


# --- ledger entries -------------------------------------------------------------------------

_MONEY = r"(?P<money>(?:NT\$|[A-Z]{3} )[-\d,.]+)"
#: The memos the fund's operations (ledger/fund/) write (in Chinese, as the books' record);
#: each is shown in the reader's language with its codes as words. Other memos are shown as written.
_MEMOS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^認捐 (?P<name>.+) " + _MONEY + "$"), "pledge"),
    (re.compile(r"^捐款 (?P<channel>[a-z_]+) " + _MONEY + "$"), "donation"),
    (re.compile(r"^退款 捐款 (?P<id>\d+) " + _MONEY + "$"), "refund"),
    (re.compile(r"^爭議 (?P<stage>[a-z_]+) 捐款 (?P<id>\d+)$"), "dispute"),
    (re.compile(r"^Stripe 撥款 " + _MONEY + "$"), "payout"),
    (re.compile(r"^(?P<kind>補助|投資)保留 (?P<name>.+) " + _MONEY + "$"), "reserve"),
    (re.compile(r"^撥款 (?P<kind>[a-z_]+) (?P<id>\d+) " + _MONEY + "$"), "pay"),
    (re.compile(r"^收益回流應收 協議 (?P<id>\d+) " + _MONEY + "$"), "revenue_report"),
    (re.compile(r"^收益回流 協議 (?P<id>\d+) " + _MONEY + "$"), "revenue_return"),
    (re.compile(r"^沖銷 分錄 (?P<id>\d+): (?P<reason>.*)$", re.S), "reversal"),
    (re.compile(r"^調整: (?P<reason>.*)$", re.S), "adjustment"),
]


def memo(text: str | None) -> str:
    """An entry's memo in the reader's language, with its codes as words."""
    text = text or ""
    for pattern, what in _MEMOS:
        m = pattern.match(text)
        if m is None:
            continue
        v = m.groupdict()
        money = v.get("money", "")
        if what == "pledge":
            return _("Pledge from %(name)s, %(money)s", name=_company_named(v["name"]), money=money)
        if what == "donation":
            return _("Donation by %(channel)s, %(money)s", channel=label(v["channel"]), money=money)
        if what == "refund":
            return _("Refund of donation %(id)s, %(money)s", id=v["id"], money=money)
        if what == "dispute":
            return _("%(stage)s, donation %(id)s", stage=label(f"dispute_{v['stage']}"), id=v["id"])
        if what == "payout":
            return _("Stripe payout to the bank, %(money)s", money=money)
        if what == "reserve":
            kind = label("grant" if v["kind"] == "補助" else "investment")
            return _("%(kind)s reserved for %(name)s, %(money)s", kind=kind, name=v["name"],
                     money=money)  # fmt: skip
        if what == "pay":
            return _("%(kind)s %(id)s paid, %(money)s", kind=label(v["kind"]), id=v["id"],
                     money=money)  # fmt: skip
        if what == "revenue_report":
            return _("Revenue return due: %(project)s, %(money)s", project=_agreement(v["id"]),
                     money=money)  # fmt: skip
        if what == "revenue_return":
            return _("Revenue returned: %(project)s, %(money)s", project=_agreement(v["id"]),
                     money=money)  # fmt: skip
        if what == "reversal":
            return _("Reverses entry %(id)s: %(reason)s", id=v["id"], reason=v["reason"])
        if what == "adjustment":
            return _("Adjustment: %(reason)s", reason=v["reason"])
    return text


# --- reconciliation targets -------------------------------------------------------------------

_TARGET = re.compile(r"\b(pledge|donation|stripe_payout|disbursement|revenue_return|entry):(\d+)\b")


def _money(record) -> str:
    amount = getattr(record, "amount", None)
    if amount is None:
        amount = getattr(record, "gross_amount", None)
    if amount is None:
        return ""
    return format_money(int(amount), getattr(record, "currency", "TWD"))


def target(spec: str | None) -> str:
    """``donation:12`` as "Donation NT$5,000 (2026-11-26)"; several, space-separated, joined."""
    if not spec:
        return "—"
    return "; ".join(_one_target(*t.split(":", 1)) if ":" in t else t for t in spec.split())


def targets_in(text: str | None) -> str:
    """A sentence that names ledger items as ``kind:id``, with each named in words."""
    return _TARGET.sub(lambda m: _one_target(m[1], m[2]), text or "")


def _one_target(kind: str, ident: str) -> str:
    models = {
        "pledge": "Pledge",
        "donation": "Donation",
        "stripe_payout": "Payout",
        "disbursement": "Disbursement",
        "revenue_return": "RevenueReturn",
        "entry": "Entry",
    }
    record = _get(models[kind], ident) if kind in models else None
    if record is None:
        return f"{label(kind)} {ident}"
    if kind == "pledge":
        return f"{label(kind)} · {_company(str(record.company_id))} · {_money(record)}"
    if kind == "donation":
        return f"{label(kind)} · {_money(record)} · {record.received_on.isoformat()}"
    if kind == "stripe_payout":
        ref = record.stripe_payout_id or ""
        return f"{label(kind)} {ref} · {_money(record)} · {record.paid_on.isoformat()}".replace(
            "  ", " "
        )
    if kind == "disbursement":
        project = _get("Project", record.project_id)
        name = project.name if project is not None else ""
        return f"{label(record.kind)} · {name} · {_money(record)}"
    if kind == "revenue_return":
        return f"{label(kind)} · {_money(record)} · {record.received_on.isoformat()}"
    return _("Entry %(id)s", id=ident)


# --- a matching run's parameters ----------------------------------------------------------------


def _share(value) -> str:
    from matching.instance import parse_share

    text = str(value).strip()
    share = parse_share(text)
    if share is None:
        return text
    return f"{float(share * 100):.4g}%"


def match_params(params) -> str:
    """A run's parameters as words: "Candidates kept per request: 10 · ..." (never JSON)."""
    if isinstance(params, str):  # stored as JSON text
        import json

        try:
            params = json.loads(params or "{}")
        except ValueError:
            return params
    if not isinstance(params, dict) or not params:
        return _("Defaults")
    parts = []
    for key, value in params.items():
        if key == "min_priority_share":
            shown = _share(value)
        elif key == "priority_weights" and isinstance(value, dict):
            points = set(value.values())
            if len(points) == 1:
                shown = str(points.pop())
            else:
                shown = list_separator().join(f"{priority_name(t)} {p}" for t, p in value.items())
        elif isinstance(value, list | tuple):
            shown = list_separator().join(str(v) for v in value)
        else:
            shown = str(value)
        parts.append(labelled(label(key), shown))
    return " · ".join(parts)


def labelled(name: str, value: object) -> str:
    """「名稱：值」 or "Name: value": the colon is the reader's language's (full-width in
    Chinese), so it is the catalog's, not glued on in code."""
    return _("%(label)s: %(value)s", label=name, value=value)


def list_separator() -> str:
    """Items of a list in a sentence: 、 in Chinese, a comma in English."""
    return ", " if english() else "、"


_MATCH_KEY = re.compile(r"(?<![\w/])([or])(\d{1,18})(?![\w/])")


def _match_side(side: str, ident: str) -> str:
    if side == "o":
        offer = _get("MatchOffer", ident)
        org = _get("Organisation", offer.company_id) if offer is not None else None
        return org_name(org) if org is not None else _("Offer %(id)s", id=ident)
    request = _get("MatchRequest", ident)
    org = _get("Organisation", request.business_id) if request is not None else None
    return org_name(org) if org is not None else _("Request %(id)s", id=ident)


#: Reasons stored before townships had English names: "township 10008040 in Nantou County"
_TOWN_BY_CODE = re.compile(r"township (\d{8}) in [A-Z][A-Za-z ]*?(?:County|City)\b")


def match_keys(text: str | None) -> str:
    """The matcher's reasons name offers and requests by key (``o2``, ``r1``) and, in runs
    stored before, townships by code: both by name here."""
    text = _TOWN_BY_CODE.sub(lambda m: town_name(m[1]), text or "")
    return _MATCH_KEY.sub(lambda m: _match_side(m[1], m[2]), text)
