"""The form library's own messages (WTForms, Flask-WTF) in the console's catalog.

Flask-WTF translates WTForms' built-in messages ("This field is required.") with WTForms'
bundled catalogs, looked up by the request's locale. For ``zh_Hant_TW`` gettext falls back
from ``zh_Hant_TW`` to ``zh``, which is WTForms' *Simplified* Chinese catalog (该字段是必填字段),
and its ``zh_TW`` one is stiff. So the console answers those messages from its own catalog
instead: every message WTForms can give is listed below (so ``python -m admin.i18n extract``
finds it and a translator fills it in like any other), and ``use_console_catalog`` hands
Flask-WTF translations that read it, for every form of the request, including forms added
later that never heard of this module.
"""

from __future__ import annotations

from flask import request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

#: WTForms' messages (wtforms/locale/wtforms.pot), singular and plural forms each as its own
#: msgid: Chinese has one form, English picks by ``n`` before the lookup (see ngettext).
WTFORMS_MESSAGES = (
    _l("Invalid field name '%s'."),
    _l("Field must be equal to %(other_name)s."),
    _l("Field must be at least %(min)d character long."),
    _l("Field must be at least %(min)d characters long."),
    _l("Field cannot be longer than %(max)d character."),
    _l("Field cannot be longer than %(max)d characters."),
    _l("Field must be exactly %(max)d character long."),
    _l("Field must be exactly %(max)d characters long."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Number must be at least %(min)s."),
    _l("Number must be at most %(max)s."),
    _l("Number must be between %(min)s and %(max)s."),
    _l("Date must be at least %(min)s."),
    _l("Date must be at most %(max)s."),
    _l("Date must be between %(min)s and %(max)s."),
    _l("This field is required."),
    _l("Invalid input."),
    _l("Invalid email address."),
    _l("Invalid IP address."),
    _l("Invalid Mac address."),
    _l("Invalid URL."),
    _l("Invalid UUID."),
    _l("Invalid value, must be one of: %(values)s."),
    _l("Invalid value, can't be any of: %(values)s."),
    _l("This field cannot be edited."),
    _l("This field is disabled and cannot have a value."),
    _l("Invalid CSRF Token."),
    _l("CSRF token missing."),
    _l("CSRF failed."),
    _l("CSRF token expired."),
    _l("Invalid Choice: could not coerce."),
    _l("Choices cannot be None."),
    _l("Not a valid choice."),
    _l("Invalid choice(s): one or more data inputs could not be coerced."),
    _l("'%(value)s' is not a valid choice for this field."),
    _l("'%(value)s' are not valid choices for this field."),
    _l("Not a valid datetime value."),
    _l("Not a valid date value."),
    _l("Not a valid time value."),
    _l("Not a valid week value."),
    _l("Not a valid integer value."),
    _l("Not a valid decimal value."),
    _l("Not a valid float value."),
    # Flask-WTF's file fields
    _l("File does not have an approved extension."),
)


class ConsoleTranslations:
    """What Flask-WTF asks of a translations object, answered by the console's catalog."""

    def gettext(self, string: str) -> str:
        return gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)

    # Flask-WTF calls the Python 2 names
    ugettext = gettext
    ungettext = ngettext


TRANSLATIONS = ConsoleTranslations()


def use_console_catalog() -> None:
    """Before each request: Flask-WTF takes the request's cached translations if present
    (flask_wtf.i18n reads ``request.wtforms_translations`` before loading WTForms' own)."""
    request.wtforms_translations = TRANSLATIONS
