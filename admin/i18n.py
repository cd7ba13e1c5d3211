"""Translations: the console's msgids are English; ``zh_Hant_TW`` is the default language.

The .po file is the source; the .mo beside it is compiled from it and shipped, so the app
needs no build step and no network. After editing the .po run ``python -m admin.i18n``
(a test fails while the two disagree). To find new strings:
``pybabel extract -F admin/babel.cfg -k _l -o messages.pot admin``.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).parent / "translations"


def catalog_paths(locale: str = "zh_Hant_TW") -> tuple[Path, Path]:
    folder = TRANSLATIONS / locale / "LC_MESSAGES"
    return folder / "messages.po", folder / "messages.mo"


def compile_po(po: Path) -> bytes:
    with po.open("rb") as fh:
        catalog = read_po(fh)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def main() -> None:
    po, mo = catalog_paths()
    mo.write_bytes(compile_po(po))
    print(f"compiled {po} -> {mo}")


if __name__ == "__main__":
    main()
