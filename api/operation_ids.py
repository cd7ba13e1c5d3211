"""Every operation's ``operationId`` in the OpenAPI document, named in one place.

Generated clients name their functions after it (``list_pledges``, ``record_donation``);
without one, openapi-python-client falls back to the method and path
(``get_api_v1_pledges``), which changes whenever a URL does. The name is the view
function's, which already says what the operation does; the table below renames the few
whose function name is too short out of its module (``propose``, ``me``) or is shared by
two blueprints (``get_run``). tests/api/test_operation_ids.py checks that every operation
has one and that no two share it.
"""

from __future__ import annotations

from flask_smorest import Blueprint

#: ``blueprint.view function`` -> operationId, where the function's name alone is not enough
RENAMED = {
    "organisations.register": "register_organisation",
    "organisations.me": "get_me",
    "disbursements.propose": "propose_disbursement",
    "disbursements.approve": "approve_disbursement",
    "disbursements.pay": "pay_disbursement",
    "disbursements.void": "void_disbursement",
    "returns.create_agreement": "create_return_agreement",
    "returns.list_agreements": "list_return_agreements",
    "returns.get_agreement": "get_return_agreement",
    "returns.list_reports": "list_revenue_reports",
    "returns.record_return": "record_revenue_return",
    "returns.list_returns": "list_revenue_returns",
    "ledger.account_balance": "get_account_balance",
    "ledger.account_statement": "get_account_statement",
    "ledger.reverse_adjustment": "reverse_entry",
    "ledger.trial_balance": "get_trial_balance",
    "ledger.position": "get_fund_position",
    "ledger.donor_statement": "get_donor_statement",
    "ledger.public_summary": "get_public_summary",
    "matching.start_run": "start_match_run",
    "matching.get_run": "get_match_run",
    "matching.publish_run": "publish_match_run",
    "matching.respond": "respond_to_proposal",
    "matching.declare_related": "declare_related_parties",
    "reconciliation.import_stripe": "import_stripe_transactions",
    "reconciliation.create_run": "start_reconciliation_run",
    "reconciliation.get_run": "get_reconciliation_run",
    "reconciliation.list_runs": "list_reconciliation_runs",
    "reconciliation.list_lines": "list_reconciliation_lines",
    "reconciliation.confirm_line": "confirm_reconciliation_line",
    "reconciliation.unmatch_line": "unmatch_reconciliation_line",
    "reconciliation.ignore_line": "ignore_reconciliation_line",
}


def name_operations(blp: Blueprint, name: str) -> None:
    """Give each operation of ``blp`` (registered as ``name``) its operationId, unless its
    view set one itself with ``@blp.doc(operationId=...)``. Called before flask-smorest
    turns the blueprint's docs into the spec."""
    for endpoint, methods in blp._docs.items():
        operations = {m: doc for m, doc in methods.items() if m != "parameters"}
        for method, doc in operations.items():
            derived = RENAMED.get(f"{name}.{endpoint}", endpoint)
            if len(operations) > 1:  # a MethodView: one endpoint, several operations
                derived = f"{method}_{derived}"
            doc.setdefault("manual_doc", {}).setdefault("operationId", derived)
