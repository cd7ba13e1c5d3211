"""Every domain error the code can raise has a console message in every language.

The messages are keyed by message code (``code`` or ``code.reason``, admin/error_messages.py);
these tests read the source for every error and field message constructed with a code, so a
new reason without a template, or a template nobody translated, fails here instead of
showing a fallback to a reader."""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from admin import error_messages, messages
from admin.i18n import LOCALES, catalog_paths
from foundation.errors import (
    DomainError,
    FieldMessage,
    InsufficientFunds,
    InvalidState,
    LedgerError,
)
from ledger import money
from matching.errors import Infeasible
from tests.admin.language_checks import SIMPLIFIED_ONLY

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("foundation", "ledger", "matching", "api", "admin")
#: Where errors are raised (foundation only defines them)
RAISING = ("ledger", "matching", "identity", "jobs", "api", "admin")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.expr, module) -> object:
    """What the called name refers to in the module (``InvalidState``, ``errors.NotFound``)."""
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, module)
        # Only through modules and classes: a proxy (``request``, ``g``) needs a request
        if isinstance(owner, type | types.ModuleType):
            return getattr(owner, node.attr, None)
    return None


def _literals(node: ast.expr | None, where: str, module) -> list[str]:
    """The string constants a keyword can take: one literal or a named constant, or the
    branches of ``a if c else b`` (None meaning "no reason"). Anything else hides the code
    from this test."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body, where, module) + _literals(node.orelse, where, module)
    name = getattr(node, "id", None) or getattr(node, "attr", "")
    value = _resolve(node, module) if name.isupper() else None  # a constant: SHOWN
    if isinstance(value, str):
        return [value]
    raise AssertionError(f"{where}: give the message code as a literal, not {ast.unparse(node)}")


def raised_codes() -> tuple[dict[str, str], dict[str, str]]:
    """``{message code: where}`` for the errors and for the field messages in the source."""
    errors: dict[str, str] = {}
    fields: dict[str, str] = {}
    for package in RAISING:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = importlib.import_module(_module_name(path))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    _own_reasons(node, module, errors, f"{path.relative_to(ROOT)}")
                if not isinstance(node, ast.Call):
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                called = _resolve(node.func, module)
                keywords = {k.arg: k.value for k in node.keywords}
                if called is FieldMessage:
                    code = node.args[1] if len(node.args) > 1 else keywords.get("code")
                    for value in _literals(code, where, module):
                        fields.setdefault(value, where)
                elif isinstance(called, type) and issubclass(called, DomainError):
                    errors.setdefault(called.code, where)
                    reasons = _literals(keywords.get("reason"), where, module) or _literals(
                        keywords.get("case"), where, module
                    )
                    for reason in reasons:
                        errors.setdefault(f"{called.code}.{reason}", where)
    return errors, fields


def _own_reasons(node: ast.ClassDef, module, errors: dict[str, str], where: str) -> None:
    """An error class that picks its own reason (``super().__init__(..., reason=...)``)."""
    cls = getattr(module, node.name, None)
    if not (isinstance(cls, type) and issubclass(cls, DomainError)):
        return
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "__init__"
            and isinstance(call.func.value, ast.Call)
            and getattr(call.func.value.func, "id", None) == "super"
        ):
            for keyword in call.keywords:
                if keyword.arg == "reason":
                    for reason in _literals(keyword.value, where, module):
                        errors.setdefault(f"{cls.code}.{reason}", f"{where}:{call.lineno}")


def _all_error_classes(base: type = DomainError) -> set[type]:
    found = set()
    for sub in base.__subclasses__():
        found |= {sub, *_all_error_classes(sub)}
    return found


def test_the_scan_finds_the_codes_it_should():
    """The scan itself works: known raise sites are found (so an empty scan cannot pass)."""
    errors, fields = raised_codes()
    assert errors["invalid_state.approve_not_reserved"].startswith("ledger/fund/disbursements.py")
    assert errors["insufficient_funds.not_enough"].startswith("ledger/books/posting.py")
    assert "infeasible.about" in errors and "validation_error.amounts_differ" in errors
    assert errors["invalid_state.job_not_retryable"].startswith("jobs/records.py")
    assert fields["closed_date"].startswith("ledger/books/posting.py")
    assert "amounts_differ" in fields and "multiple_of" in fields


def test_every_code_raised_has_a_template():
    errors, fields = raised_codes()
    # Every class's own code too: an error raised without a reason says its kind's message
    kinds = {
        cls.code: cls.__qualname__
        for cls in _all_error_classes()
        if cls.__module__.split(".")[0] in PACKAGES
    }
    missing = {c: w for c, w in {**kinds, **errors}.items() if c not in error_messages.MESSAGES}
    assert missing == {}, "message codes without a template in admin/error_messages.py"
    fields.pop(messages.SHOWN, None)  # already in the reader's language: shown as it is
    missing = {c: w for c, w in fields.items() if c not in error_messages.FIELD_MESSAGES}
    assert missing == {}, "field message codes without a template in admin/error_messages.py"


def _msgid(template) -> str:
    return template.text._args[0]  # a lazy_gettext string: the msgid it will look up


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_is_translated(locale):
    po, _mo = catalog_paths(locale)
    with po.open("rb") as fh:
        catalog = {m.id: m.string for m in read_po(fh) if m.id}
    templates = [
        *error_messages.MESSAGES.values(),
        *error_messages.FIELD_MESSAGES.values(),
        error_messages.Template(error_messages.GENERIC),
        error_messages.Template(error_messages.GENERIC_FIELD),
    ]
    for template in templates:
        msgid = _msgid(template)
        assert catalog.get(msgid), f"{locale}: no translation of {msgid!r}"
        translated = catalog[msgid]
        # The translation fills in the same parameters, no more, no fewer
        assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(msgid)), msgid
        if locale.startswith("zh"):
            assert not set(translated) & SIMPLIFIED_ONLY, translated
        # Every parameter a template shows in a particular way is one it names
        assert set(template.show) <= set(PLACEHOLDER.findall(msgid)), msgid


def test_no_english_text_is_read():
    """The console renders by code: nothing in it parses an error's English detail."""
    source = (ROOT / "admin" / "messages.py").read_text(encoding="utf-8")
    assert "import re" not in source and ".detail" not in source


# --- errors raised by the domain, in both languages ----------------------------------------------


def _raised(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    return refused.value


def _both(app, error) -> tuple[str, str]:
    with app.test_request_context():
        with force_locale("zh_Hant_TW"):
            zh = messages.message(error)
        with force_locale("en"):
            en = messages.message(error)
    return zh, en


def test_an_amount_that_is_not_one_names_the_text(app):
    error = _raised(money.parse_amount, "12x", "TWD")
    assert (error.message_code, error.params) == ("invalid_amount.not_an_amount", {"text": "12x"})
    assert _both(app, error) == ("「12x」不是金額。", "“12x” is not an amount.")


def test_too_many_decimals_is_said_in_both_languages_with_its_field(app):
    error = _raised(money.parse_amount, "1.555", "TWD")
    zh, en = _both(app, error)
    assert "1.555" in zh and "1.555" in en and zh != en
    with app.test_request_context(), force_locale("zh_Hant_TW"):
        assert messages.field_errors(error) == {"amount": ["小數位數過多。"]}
    with app.test_request_context(), force_locale("en"):
        assert messages.field_errors(error) == {"amount": ["Too many decimals."]}


def test_amounts_are_shown_in_ntd_from_minor_units(app):
    error = InsufficientFunds(
        "Not enough in assets:bank:main: it holds NT$100 and this needs NT$1,200.",
        reason="not_enough",
        params={"account": "assets:bank:main", "held": 10000, "needed": 120000, "currency": "TWD"},
    )
    zh, en = _both(app, error)
    assert zh == "銀行存款（主帳戶） 餘額不足：現有 NT$100，本筆需要 NT$1,200。"
    assert en == "Not enough money in Main bank account: it holds NT$100 and this needs NT$1,200."


def test_a_state_is_named_in_the_readers_language(app):
    error = InvalidState("…", reason="void_not_reserved", params={"id": 3, "status": "paid"})
    zh, en = _both(app, error)
    assert zh.startswith("撥款案 3 目前為「已撥款」") and "paid" not in zh
    assert en.startswith("Disbursement 3 is Paid")


def test_rewording_the_english_detail_keeps_the_translation(app):
    """The point of message codes: the detail is for the API, the code for the console."""
    before = InvalidState("Pledge 5 is fully paid.", reason="pledge_paid", params={"id": 5})
    after = InvalidState("Pledge #5 needs no more money.", reason="pledge_paid", params={"id": 5})
    expected = ("認捐 5 已全數繳清。", "Pledge 5 is fully paid.")
    assert _both(app, before) == _both(app, after) == expected


def test_a_matcher_error_names_its_constraint(app):
    zh, en = _both(app, Infeasible("…", constraint="capacity", subject="o2"))
    assert "o2" not in en and "Offer 2" in en
    assert "o2" not in zh


@pytest.mark.parametrize(
    "error",
    [
        LedgerError("Only English knows this.", reason="no_such_reason"),
        type("Unheard", (LedgerError,), {"code": "no_such_code"})("Only English knows this."),
        # A template whose parameters the raise site left out: its kind's message instead
        InvalidState("Only English knows this.", reason="pledge_paid"),
    ],
)
def test_an_unknown_code_falls_back_to_a_translated_message(app, error):
    zh, en = _both(app, error)
    assert "English" not in zh and "English" not in en
    assert zh != en and re.search(r"[\u4e00-\u9fff]", zh)
    with app.test_request_context(), force_locale("zh_Hant_TW"):
        assert messages.field_message("not a coded message") == "格式不正確。"
        assert messages.field_message(FieldMessage("x", "no_such_code")) == "格式不正確。"
