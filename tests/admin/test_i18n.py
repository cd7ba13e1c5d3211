"""Translations: every console string has a Traditional Chinese and an English translation,
compiled."""

from __future__ import annotations

import gettext
import io

import pytest
from babel.messages.pofile import read_po

from admin.i18n import LOCALES, catalog_paths, compile_po, extracted


@pytest.mark.parametrize("locale", LOCALES)
def test_the_shipped_mo_matches_the_po(locale):
    po, mo = catalog_paths(locale)
    with po.open("rb") as fh:
        catalog = read_po(fh)
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for message in catalog:
        if message.id:
            assert compiled.gettext(message.id) == message.string, message.id
    # The same messages as compiling the .po now (compared as catalogs without the header:
    # Babel versions write their own name there and lay the bytes out differently)
    fresh = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    shipped = {k: v for k, v in compiled._catalog.items() if k != ""}
    assert shipped == {k: v for k, v in fresh._catalog.items() if k != ""}, "python -m admin.i18n"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_console_string_is_translated(locale):
    po, _mo = catalog_paths(locale)
    with po.open("rb") as fh:
        translated = {m.id: m.string for m in read_po(fh) if m.id}
    found = {m.id for m in extracted() if m.id}
    missing = sorted(m for m in found if not translated.get(m))
    assert not missing, f"run python -m admin.i18n extract and translate: {missing}"


def test_the_english_catalog_says_what_the_code_says():
    po, _mo = catalog_paths("en")
    with po.open("rb") as fh:
        assert all(m.string == m.id for m in read_po(fh) if m.id)
