"""web/request_guard.py: a page's form post with unstorable text goes to its view with the
fields named, the characters removed and no commit possible; elsewhere it is refused."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import BadRequest

from foundation.transactions import HalfPostedError
from web import request_guard
from web.problems import ApiError
from web.request import db_session


def test_a_page_form_post_is_handed_to_the_view(app):
    data = {"name": "山\u0000海", "note": "fine", "x\u0000": "1"}
    with app.test_request_context("/console/register", method="POST", data=data):
        request_guard.refuse_unstorable_text()
        assert request_guard.unstorable_form_fields() == ("name", "x\u0000")
        from flask import request

        assert request.form["name"] == "山海" and request.form["x"] == "1"
        with pytest.raises(HalfPostedError):
            db_session().commit()


def test_an_api_form_post_and_a_page_query_are_still_refused(app):
    api = app.test_request_context("/api/v1/organisations", method="POST", data={"n": "\u0000"})
    with api, pytest.raises(ApiError):
        request_guard.refuse_unstorable_text()
    with app.test_request_context(
        "/console/register?next=%00", method="POST", data={"name": "\u0000"}
    ):
        with pytest.raises(BadRequest):
            request_guard.refuse_unstorable_text()
        assert request_guard.unstorable_form_fields() == ()


def test_clean_requests_pass_untouched(app):
    with app.test_request_context("/console/register", method="POST", data={"name": "山海"}):
        assert request_guard.refuse_unstorable_text() is None
        assert request_guard.unstorable_form_fields() == ()
