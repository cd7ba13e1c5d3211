"""Chinese sentences in the zh_Hant_TW catalog take full-width punctuation: 「已處理行數：4」,
not 「已處理行數: 4」. An ASCII colon or comma after a CJK character (or after a placeholder
that follows one, as in 「協議 %(id)s: 」) is the mistake; times (09:00), URLs (https://) and
the placeholders' own text are not."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from admin.i18n import catalog_paths

CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]"
#: A Python format placeholder, which may stand between the CJK text and the punctuation
PLACEHOLDER = r"(?:%\([a-z_]+\)[sdif]|%[sd]|\{[a-z_]*\})"
#: CJK, then perhaps spaces and placeholders, then an ASCII ':' or ',' that does not open a
#: time (09:00) or a URL's scheme (://)
ASCII_AFTER_CJK = re.compile(rf"{CJK}(?:\s*{PLACEHOLDER})*\s*[:,](?![0-9]|//)")


def _msgstrs():
    po, _mo = catalog_paths("zh_Hant_TW")
    with po.open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text:
                yield message.id, text


def test_the_check_tells_a_chinese_colon_from_a_time_a_url_and_a_placeholder():
    assert ASCII_AFTER_CJK.search("已處理行數: 4 / 4")
    assert ASCII_AFTER_CJK.search("協議 %(id)s: 5.00% 營收, 2026-01-01")
    assert ASCII_AFTER_CJK.search("營收,")
    assert not ASCII_AFTER_CJK.search("已處理行數：4 / 4")
    assert not ASCII_AFTER_CJK.search("每天 09:00 寄出")
    assert not ASCII_AFTER_CJK.search("請到 https://example.tw 查看")
    assert not ASCII_AFTER_CJK.search("帳戶 assets:bank:main")


def test_chinese_sentences_use_full_width_colons_and_commas():
    wrong = [(msgid, text) for msgid, text in _msgstrs() if ASCII_AFTER_CJK.search(text)]
    assert wrong == []


#: A template that glues ASCII punctuation to a translated string (``{{ _("Lines processed")
#: }}: ...``) makes the Chinese page read 「已處理行數: 4」 whatever the catalog says: the
#: punctuation belongs inside the msgid, where the translator can make it full-width.
GLUED = re.compile(r"""_\((["'])(?:(?!\1).)*\1\)\s*\}\}[:,]""")


def test_no_template_glues_ascii_punctuation_to_a_translated_string():
    from admin.i18n import ADMIN

    glued = [
        f"{path.name}:{n}"
        for path in sorted((ADMIN / "templates").rglob("*.html"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if GLUED.search(line)
    ]
    assert glued == []


def test_the_import_page_and_the_agreement_line_read_as_chinese(app):
    from flask import render_template_string

    with app.test_request_context("/console"):
        html = render_template_string(
            '{{ _("Lines processed: %(done)s / %(total)s", done=4, total=4) }}|'
            '{{ _("Agreement %(id)s: %(share)s%% of revenue, %(start)s – %(end)s",'
            ' id=1, share="5.00", start="2026-01-01", end="2026-12-31") }}'
        )
    assert html == "已處理行數：4 / 4|協議 1：營收的 5.00%，2026-01-01 – 2026-12-31"
