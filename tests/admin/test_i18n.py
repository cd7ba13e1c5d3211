"""Translations: every console string has a Traditional Chinese translation, compiled."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from admin.i18n import catalog_paths

ADMIN = Path(__file__).parents[2] / "admin"


def test_the_shipped_mo_matches_the_po():
    po, mo = catalog_paths()
    with po.open("rb") as fh:
        catalog = read_po(fh)
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for message in catalog:
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id


def test_every_console_string_is_translated():
    po, _mo = catalog_paths()
    with po.open("rb") as fh:
        translated = {m.id: m.string for m in read_po(fh) if m.id}
    method_map = [("**.py", "python"), ("templates/console/**.html", "jinja2")]
    found = {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(
            str(ADMIN), method_map, keywords={"_": None, "gettext": None, "_l": None}
        )
    }
    missing = sorted(m for m in found if not translated.get(m))
    assert not missing, f"run pybabel extract and translate: {missing}"
