"""The field macros (templates/console/_macros.html, _pickers.html): a field with several
errors keeps every id on the page unique, and its aria-describedby names one element that
holds all of its messages."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from flask import render_template_string

from admin import forms
from admin.self_service_forms import OfferForm


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.described: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if attrs.get("aria-describedby"):
            self.described += attrs["aria-describedby"].split()


def _parse(html: str) -> _Ids:
    parser = _Ids()
    parser.feed(html)
    return parser


PAGE = """{% from "console/_macros.html" import field %}
{% from "console/_pickers.html" import grouped_select, checkboxes %}
<form>{{ field(form.amount) }}{{ field(form.purpose) }}</form>
<form>{{ grouped_select(offer.industries, {"A": [("A", "農業")]}) }}
{{ checkboxes(offer.kinds) }}</form>
"""


def test_a_field_with_several_errors_repeats_no_id(app):
    with app.test_request_context("/console/disbursements/new", method="POST"):
        form = forms.ProposeForm(formdata=None)
        offer = OfferForm(formdata=None)
        for f in (form.amount, form.purpose, offer.industries, offer.kinds):
            f.errors = ["第一個錯誤", "第二個錯誤", "第三個錯誤"]
        html = render_template_string(PAGE, form=form, offer=offer)
    found = _parse(html)
    repeated = [i for i, n in Counter(found.ids).items() if n > 1]
    assert repeated == []
    # Every message is still shown, and what each input points to exists
    assert html.count("第二個錯誤") == 4
    assert found.described and set(found.described) <= set(found.ids)
