"""The base of every error the domain raises on purpose: a stable code and parameters.

An error says what went wrong three ways, one for each reader:

* ``code`` (on the class): the kind of problem, stable, for machines. The API puts it in its
  problem documents (api/errors.py) together with the class's HTTP ``status``.
* ``message_code``: the kind and, when the raise site names it, the particular situation
  (``invalid_state.disbursement_not_reserved``), with ``params``: the values the message
  needs, as data (amounts in minor units beside their ``currency``, ids, names, dates in ISO
  form). The console renders this through a Babel template per message code
  (admin/error_messages.py), so a message is translated by what it means, never by
  re-reading its English wording.
* ``detail``: the English sentence for the API's problem documents and the logs.

Per-field messages are strings (the API shows them as they are); a ``FieldMessage`` is such a
string that also carries its own code and parameters for the console.
"""

from __future__ import annotations

from collections.abc import Mapping


class FieldMessage(str):
    """A per-field message: English text for the API, ``code`` and ``params`` for the
    console. Compares and serialises as the plain string it is."""

    code: str
    params: dict[str, object]

    def __new__(cls, text: str, code: str, **params: object) -> FieldMessage:
        message = super().__new__(cls, text)
        message.code = code
        message.params = params
        return message

    def __reduce__(self):
        return (_field_message, (str(self), self.code, self.params))


def _field_message(text: str, code: str, params: dict) -> FieldMessage:
    return FieldMessage(text, code, **params)


class DomainError(Exception):
    """Base of every error the domain raises on purpose.

    ``reason`` names the situation within the class's ``code`` (lowercase words joined by
    ``_``; a test checks that every one raised has a message in every console language).
    ``params`` are its message's values. Other keywords are kept in ``extra`` as before;
    an ``extra`` ``case`` doubles as the reason when none is given.
    """

    code = "error"
    status = 422

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
        fields: dict[str, list[str]] | None = None,
        **extra,
    ):
        super().__init__(detail)
        self.detail = detail
        self.reason = reason or extra.get("case")
        self.params = dict(params or {})
        self.fields = fields or {}
        self.extra = extra

    @property
    def message_code(self) -> str:
        """The key of this error's message: ``code`` or ``code.reason``."""
        return f"{self.code}.{self.reason}" if self.reason else self.code
