"""Translations: the console's msgids are English; ``zh_Hant_TW`` is the default language.

Each language has its .po file (the source) and the .mo beside it, compiled from it and
shipped, so the app needs no build step and no network. ``en`` translates every msgid to
itself: a complete catalog, so a missing string shows up in review like any other.

* ``python -m admin.i18n`` compiles every .po into its .mo (a test fails while they differ).
* ``python -m admin.i18n extract`` finds the strings in admin/ (``_``, ``gettext``, ``_l``),
  adds the new ones to each .po (English filled in, Traditional Chinese left for a
  translator; a test fails while one is empty) and drops the ones no longer used.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ADMIN = Path(__file__).parent
TRANSLATIONS = ADMIN / "translations"
LOCALES = ("zh_Hant_TW", "en")
METHOD_MAP = [("**.py", "python"), ("templates/console/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "_l": None}


def catalog_paths(locale: str = "zh_Hant_TW") -> tuple[Path, Path]:
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    return folder / "messages.po", folder / "messages.mo"


def compile_po(po: Path) -> bytes:
    with po.open("rb") as fh:
        catalog = read_po(fh)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def extracted() -> Catalog:
    """Every translatable string of the console, as a template catalog."""
    template = Catalog(project="placefund", version="1")
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(ADMIN), METHOD_MAP, keywords=KEYWORDS
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments)
    return template


def update(locale: str) -> Path:
    """Bring ``locale``'s .po up to the strings in the code (see the module docstring)."""
    po, _mo = catalog_paths(locale)
    po.parent.mkdir(parents=True, exist_ok=True)
    if po.exists():
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
    else:
        catalog = Catalog(locale=locale, project="placefund", version="1")
    catalog.update(extracted(), no_fuzzy_matching=True)
    if locale == "en":
        for message in catalog:
            if message.id and not message.string:
                message.string = message.id
    with po.open("wb") as fh:
        write_po(fh, catalog, omit_header=False, ignore_obsolete=True, no_location=True)
    return po


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["extract"]:
        for locale in LOCALES:
            print(f"updated {update(locale)}")
    for locale in LOCALES:
        po, mo = catalog_paths(locale)
        mo.write_bytes(compile_po(po))
        print(f"compiled {po} -> {mo}")


if __name__ == "__main__":
    main()
