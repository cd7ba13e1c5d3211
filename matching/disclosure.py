"""What each side of a proposal may see of its explanation.

A stored explanation is written for fund managers: every component's reason with its
figures, and the best alternatives that lost, naming other companies' offers, other
businesses' requests, their scores and what budget they had left. Shown as is, a local
business would read the company's budget per partner and its whole budget, and a company
would read which competing offers scored what. So:

* fund managers and admins see everything;
* the company sees its own components (its budget is its own) and no alternatives;
* the local business sees the components with the amount reason saying only whether the
  amount it seeks fits (no budget figures), and no alternatives.
"""

from __future__ import annotations

import copy
import json

from identity.models import User

#: What the business reads for the amount component, by how it scored
AMOUNT_FOR_BUSINESS = {
    "no_budget": {
        "zh": "企業未設預算上限",
        "en": "the company set no budget limit",
    },
    "fits": {
        "zh": "所需金額在企業為每位夥伴預留的預算之內",
        "en": "the amount you seek fits the company's budget for each partner",
    },
    "partly": {
        "zh": "所需金額超過企業為每位夥伴預留的預算，但在其總預算之內",
        "en": "the amount you seek is above the company's budget for each partner but "
        "within its whole budget",
    },
    "over": {
        "zh": "所需金額超過企業的總預算",
        "en": "the amount you seek is above the company's whole budget",
    },
}


def side_of(user: User, *, company_id: int, business_id: int) -> str:
    """``manager``, ``company`` or ``business``: how ``user`` relates to a proposal."""
    if user.is_manager:
        return "manager"
    if user.organisation_id == company_id:
        return "company"
    if user.organisation_id == business_id:
        return "business"
    raise PermissionError("not a party to this proposal")


def _amount_case(component: dict) -> str:
    en = ((component.get("reason") or {}).get("en") or "").lower()
    if "set no budget" in en:
        return "no_budget"
    if "exceeds the company's whole budget" in en:
        return "over"
    if component.get("points") is not None and component.get("points") == component.get("max"):
        return "fits"
    return "partly"


def for_side(explanation: dict, side: str) -> dict:
    """The explanation as ``side`` may see it (a new dict; the stored one is untouched)."""
    if side == "manager":
        return explanation
    out = copy.deepcopy(explanation)
    out.pop("alternative_offer", None)
    out.pop("alternative_request", None)
    out.pop("alternatives", None)
    if side == "business":
        for component in out.get("components") or []:
            if component.get("name") == "amount":
                component["reason"] = dict(AMOUNT_FOR_BUSINESS[_amount_case(component)])
    return out


def explanation_for(proposal, user: User) -> dict:
    """A stored proposal's explanation as ``user`` may see it."""
    data = json.loads(proposal.explanation or "{}")
    side = side_of(
        user, company_id=proposal.offer.company_id, business_id=proposal.request.business_id
    )
    return for_side(data, side)
