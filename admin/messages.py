"""Domain errors in the reader's language, rendered by their message code.

``ledger`` and ``matching`` raise errors with a stable ``code``, an optional ``reason`` and
``params`` (foundation/errors.py); the API hands on their English ``detail``. The console looks
the message code up in admin/error_messages.py and fills the template with the parameters,
each shown the way a reader expects (NT$1,000, a status's name, an account's name). Nothing
here reads the English text: rewording a domain message cannot lose its translation.

A code without a template (or a template whose parameters the raise site did not give) falls
back to its kind's message, then to a generic one, always in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping

from admin.error_messages import FIELD_MESSAGES, GENERIC, GENERIC_FIELD, MESSAGES, Template
from admin.labels import english

#: The ``FieldMessage`` code of a message the console already put in the reader's language
SHOWN = "shown"


def _render(template: Template | None, params: Mapping[str, object]) -> str | None:
    """The template filled in, or None when it needs a parameter the error does not give."""
    if template is None:
        return None
    text = str(template.text)
    if "%(" not in text:
        return text
    try:
        values = {
            name: template.show[name](value, params) if name in template.show else value
            for name, value in params.items()
            if value is not None
        }
        return text % values
    except (KeyError, TypeError, ValueError):
        return None


def _translate(code: str | None, params: Mapping[str, object] | None) -> tuple[str, bool]:
    """The message and whether it says something particular to this error: its situation's
    own message, or its kind's when that names the error's values."""
    params = dict(params or {})
    code = code or ""
    template = MESSAGES.get(code)
    text = _render(template, params)
    if text is not None:
        return text, "." in code or "%(" in str(template.text)
    kind = code.split(".", 1)[0]
    text = _render(MESSAGES.get(kind), params) if kind != code else None
    return (text if text is not None else str(GENERIC)), False


def translate(code: str | None, params: Mapping[str, object] | None = None) -> str:
    """The message for a message ``code`` (``kind`` or ``kind.reason``) with its params."""
    return _translate(code, params)[0]


def message(error) -> str:
    """A ledger or matching error's message in the reader's language."""
    return translate(getattr(error, "message_code", None), getattr(error, "params", None))


def is_particular(error) -> bool:
    """Does the error's message say more than its kind's catch-all ("Some fields are not
    valid")? Then it can stand alone next to the one field it is about."""
    code = getattr(error, "message_code", None)
    return _translate(code, getattr(error, "params", None))[1]


def field_message(message: str) -> str:
    """A per-field message in the reader's language, by its code (``FieldMessage``).

    A plain string (a terse message no raise site gave a code, such as "1 to 120") is
    English: shown as it is to an English reader, as a generic "not valid" to any other."""
    code = getattr(message, "code", None)
    params = getattr(message, "params", None) or {}
    if code == SHOWN:
        return str(message)
    text = _render(FIELD_MESSAGES.get(code or ""), params)
    if text is not None:
        return text
    return str(message) if code is None and english() else str(GENERIC_FIELD)


def field_errors(error) -> dict[str, list[str]]:
    """A domain error's per-field messages, translated."""
    return {
        name: [field_message(m) for m in messages]
        for name, messages in (getattr(error, "fields", None) or {}).items()
    }
