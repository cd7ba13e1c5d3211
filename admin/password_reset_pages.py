"""Setting a new password from a reset link a manager issued."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import gettext as _

from admin import console_passwords, forms
from admin.console import bp, form_error
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity import passwords
from web.rate_limits import (
    RESET_ATTEMPTS,
    rate_limits,
)
from web.request import db_session


@bp.route("/reset/<secret>", methods=["GET", "POST"])
def reset_password(secret: str):
    """A user sets a new password through the one-time link a manager gave them."""
    if len(secret) > 100:
        abort(404)
    row = passwords.find_reset(db_session(), secret)
    form = forms.NewPasswordForm()
    if form.is_submitted():
        refused = rate_limits().hit(RESET_ATTEMPTS, request.remote_addr or "?")
        if refused is not None:
            abort(429)
    if form.validate_on_submit():
        try:
            with atomic(db_session()) as s:
                console_passwords.use_reset(s, secret, form.password.data)
        except LedgerError as error:
            form_error(form, error)
        else:
            web_session.pop("sid", None)
            flash(_("Your password is set. Please sign in."), "info")
            return redirect(url_for("console.sign_in"))
    return render_template("console/reset.html", form=form, user=row.user)
