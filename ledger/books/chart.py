"""The fund's chart of accounts: which codes exist and what each one is.

Fixed accounts are created by the first migration. Accounts per company, project,
agreement, purpose or currency are opened on first use from the templates below, so a
code always means the same thing (``assets:pledges_receivable:company:12``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from foundation.errors import UnknownAccount, ValidationError
from foundation.reference import counties, townships
from ledger.money import DEFAULT_CURRENCY, check_currency

RESTRICTION_KINDS = ("county", "township", "priority", "project")
PRIORITY_TYPES = ("agricultural", "intermediate", "indigenous")

NORMAL_SIGN = {"asset": 1, "expense": 1, "liability": -1, "net_assets": -1, "income": -1}


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    type: str
    currency: str
    allow_negative: bool

    @property
    def normal_sign(self) -> int:
        return NORMAL_SIGN[self.type]


# (pattern, name template, type, allow_negative, currency from group "cur" or TWD)
# Income and expense accounts are nominal: they only grow within the life of the fund, but a
# refund may debit income before new donations arrive, so they may go negative. Unrestricted
# net assets may go negative between period closes because income and expense are not closed
# into it; restricted buckets, bank, clearing and receivables may never go negative.
_TEMPLATES: list[tuple[re.Pattern[str], str, str, bool]] = [
    (
        re.compile(r"^assets:bank:(?P<name>[a-z0-9_]+)(:(?P<cur>[A-Z]{3}))?$"),
        "銀行存款 {name}",
        "asset",
        False,
    ),
    (
        re.compile(r"^assets:stripe:clearing:(?P<cur>[A-Z]{3})$"),
        "Stripe 待清算 {cur}",
        "asset",
        False,
    ),
    (
        re.compile(r"^assets:pledges_receivable:company:(?P<id>\d+)$"),
        "應收認捐款 企業 {id}",
        "asset",
        False,
    ),
    (
        re.compile(r"^assets:returns_receivable:agreement:(?P<id>\d+)$"),
        "應收收益回流 協議 {id}",
        "asset",
        False,
    ),
    (re.compile(r"^assets:investments:project:(?P<id>\d+)$"), "投資 計畫 {id}", "asset", False),
    (re.compile(r"^assets:disputes:(?P<cur>[A-Z]{3})$"), "爭議款項 {cur}", "asset", False),
    (
        re.compile(r"^liabilities:disbursements_payable:project:(?P<id>\d+)$"),
        "應付撥款 計畫 {id}",
        "liability",
        False,
    ),
    (re.compile(r"^income:donations$"), "捐款收入", "income", True),
    (re.compile(r"^income:revenue_returns$"), "收益回流收入", "income", True),
    (re.compile(r"^expense:grants:project:(?P<id>\d+)$"), "補助支出 計畫 {id}", "expense", True),
    (
        re.compile(r"^expense:fees:processor:(?P<cur>[A-Z]{3})$"),
        "金流手續費 {cur}",
        "expense",
        True,
    ),
    (re.compile(r"^expense:adjustments$"), "調整支出", "expense", True),
    (re.compile(r"^net_assets:unrestricted$"), "非限定淨資產", "net_assets", True),
    (
        re.compile(
            r"^net_assets:restricted:(?P<kind>county|township|priority|project):(?P<id>[a-z0-9_]+)$"
        ),
        "限定用途淨資產 {kind} {id}",
        "net_assets",
        False,
    ),
    # Money held for proposals awaiting a second institution's approval, per funding source:
    # moved out of the source so it cannot be proposed twice, yet not spent (no expense).
    (
        re.compile(
            r"^net_assets:held:(?P<source>unrestricted|"
            r"(county|township|priority|project):[a-z0-9_]+)$"
        ),
        "待核准保留 {source}",
        "net_assets",
        False,
    ),
    # Currency exchange: a TWD charge settled in USD passes through exchange:TWD and
    # exchange:USD so that each currency balances on its own within the entry.
    (re.compile(r"^net_assets:exchange:(?P<cur>[A-Z]{3})$"), "匯兌 {cur}", "net_assets", True),
]

FIXED_ACCOUNTS = (
    "assets:bank:main",
    "assets:stripe:clearing:TWD",
    "income:donations",
    "income:revenue_returns",
    "net_assets:unrestricted",
    "net_assets:exchange:TWD",
)


def spec_for(code: str) -> AccountSpec:
    """The spec of a leaf account code, or UnknownAccount if the chart has no such code."""
    for pattern, name, type_, allow_negative in _TEMPLATES:
        m = pattern.match(code)
        if m:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            currency = check_currency(groups.get("cur", DEFAULT_CURRENCY))
            return AccountSpec(code, name.format(**groups), type_, currency, allow_negative)
    raise UnknownAccount(
        f"Unknown account {code!r}: it is not in the fund's chart of accounts.",
        fields={"account": ["unknown account"]},
    )


# --- purposes (restrictions) ---------------------------------------------------------------


def parse_restriction(text: str | None) -> str | None:
    """Normalise a restriction ``kind:id`` (county, township, priority type or project).

    Reference codes are checked against the 368-township reference data.
    """
    if text is None or text == "":
        return None

    kind, _, ident = str(text).partition(":")
    if kind not in RESTRICTION_KINDS or not ident:
        raise ValidationError(
            f"Unknown restriction {text!r}: use county:CODE, township:CODE, "
            f"priority:{'|'.join(PRIORITY_TYPES)} or project:ID.",
            fields={"restriction": ["unknown purpose"]},
        )
    ok = {
        "county": lambda: ident in counties(),
        "township": lambda: ident in townships(),
        "priority": lambda: ident in PRIORITY_TYPES,
        "project": lambda: ident.isdigit(),
    }[kind]()
    if not ok:
        raise ValidationError(
            f"Unknown {kind} {ident!r} in restriction.", fields={"restriction": [f"unknown {kind}"]}
        )
    return f"{kind}:{ident}"


def restricted_account(restriction: str) -> str:
    return f"net_assets:restricted:{restriction}"


def restriction_allows(
    restriction: str, *, project_id: int, county: str, town: str, priority: str | None
) -> bool:
    """May money restricted to ``restriction`` be spent on this project? The purpose must match."""
    kind, _, ident = restriction.partition(":")
    return {
        "county": ident == county,
        "township": ident == town,
        "priority": ident == priority,
        "project": ident == str(project_id),
    }[kind]


def source_account(funding: str | None) -> str:
    """The net-asset account of a funding source: a restricted purpose or unrestricted."""
    return restricted_account(funding) if funding else "net_assets:unrestricted"


def held_account(funding: str | None) -> str:
    """Where a funding source's money waits while a proposal awaits its second approval."""
    return f"net_assets:held:{funding or 'unrestricted'}"


def receivable_account(company_id: int) -> str:
    return f"assets:pledges_receivable:company:{company_id}"


def clearing_account(currency: str) -> str:
    return f"assets:stripe:clearing:{currency}"


def fee_account(currency: str) -> str:
    return f"expense:fees:processor:{currency}"


def exchange_account(currency: str) -> str:
    return f"net_assets:exchange:{currency}"
