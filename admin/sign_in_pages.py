"""Signing in and out of the console, two-factor sign-in, and the sessions a user (or a
manager, for the users they look after) can see and end.

Guessing is slowed, never turned into a lockout (web/rate_limits.py): every sign-in post
counts per client address before any password hash is computed; failures count per address
(the guesser waits a minute, then an hour, then a day) and per account, but the per-account
count does not hold back a browser that has signed in to that account before (it carries a
signed device cookie), so a stranger cannot lock the owner out. The user is told at their
next sign-in how many attempts failed meanwhile.
"""

from __future__ import annotations

import datetime as dt
import math
import time

from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as web_session
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from admin import console_sessions, forms, messages, two_factor
from admin.console import bp, form_error, home_for, me, safe_next, signed_in
from admin.models import ConsoleSession
from foundation.errors import LedgerError
from foundation.transactions import atomic
from identity import passwords
from identity.models import User
from identity.roles import MANAGERS
from web.rate_limits import (
    SIGN_IN_ATTEMPTS,
    SIGN_IN_FAILURES_PER_ACCOUNT,
    SIGN_IN_FAILURES_PER_ADDRESS,
    TWO_FACTOR_ATTEMPTS,
    Refused,
    account_key,
    rate_limits,
)
from web.request import db_session

#: A browser that signed in to an account carries this signed cookie naming it
DEVICE_COOKIE = "pf_device"
DEVICE_MAX_AGE = dt.timedelta(days=180)
#: Accounts a device cookie remembers (a shared office computer)
DEVICE_ACCOUNTS = 5
#: Between the password and the second factor, at most this long
TWO_FACTOR_PENDING = dt.timedelta(minutes=5)


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="placefund.device")


def known_accounts() -> list[str]:
    """The account keys this browser has signed in to (from its signed cookie)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 1000:
        return []
    try:
        keys = _devices().loads(raw, max_age=int(DEVICE_MAX_AGE.total_seconds()))
    except BadSignature:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def remember_device(response, key: str):
    keys = [key, *[k for k in known_accounts() if k != key]][:DEVICE_ACCOUNTS]
    response.set_cookie(
        DEVICE_COOKIE,
        _devices().dumps(keys),
        max_age=int(DEVICE_MAX_AGE.total_seconds()),
        path="/console/",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return _("%(num)d s", num=seconds)
    minutes = math.ceil(seconds / 60)
    if minutes < 120:
        return _("%(num)d min", num=minutes)
    return _("%(num)d h", num=math.ceil(minutes / 60))


def _too_many(form, target: str, refused: Refused, message: str):
    form.password.errors = [message % {"wait": _wait_text(refused.retry_after)}]
    response = make_response(render_template("console/sign_in.html", form=form, next=target), 429)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _open_session(user: User) -> str:
    """Sign ``user`` in on this browser: a new server-side session (no fixation: the old
    cookie session is dropped, only the language kept); returns the failure notice, if any."""
    failures = user.failed_logins
    with atomic(db_session()) as s:
        user = s.get(User, user.id)
        user.failed_logins = 0
        _row, secret = console_sessions.start(
            s,
            user,
            address=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent", ""),
        )
    lang = web_session.get("lang")
    web_session.clear()
    if lang:
        web_session["lang"] = lang
    web_session.permanent = True
    web_session["sid"] = secret
    if failures:
        flash(
            _(
                "Sign-in attempts with a wrong password since your last sign-in: %(num)d. "
                "If they were not yours, change your password and tell a fund manager.",
                num=failures,
            ),
            "error",
        )
    return secret


def _signed_in_response(user: User, target: str):
    _open_session(user)
    response = redirect(target or home_for(user))
    return remember_device(response, account_key(user.email))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    form = forms.SignInForm()
    target = safe_next(request.values.get("next"), "")
    if form.validate_on_submit():
        limits = rate_limits()
        address = request.remote_addr or "?"
        key = account_key(form.email.data)
        known = key in known_accounts()
        refused = limits.hit(SIGN_IN_ATTEMPTS, address) or limits.check(
            SIGN_IN_FAILURES_PER_ADDRESS, address
        )
        if refused:
            return _too_many(
                form,
                target,
                refused,
                _("Too many sign-in attempts from your network. Try again in %(wait)s."),
            )
        refused = None if known else limits.check(SIGN_IN_FAILURES_PER_ACCOUNT, key)
        if refused:
            return _too_many(
                form,
                target,
                refused,
                _(
                    "Too many failed sign-ins to this account from new devices. Sign in from "
                    "a device you have used before, try again in %(wait)s, or ask a fund "
                    "manager for a reset link."
                ),
            )
        s = db_session()
        try:
            user = passwords.authenticate(s, form.email.data, form.password.data)
        except passwords.SignInRefused:
            s.commit()  # the failure count, told to the user at their next sign-in
            limits.hit(SIGN_IN_FAILURES_PER_ADDRESS, address)
            if not known:
                limits.hit(SIGN_IN_FAILURES_PER_ACCOUNT, key)
            form.password.errors = [_("The email or the password is wrong.")]
            return render_template("console/sign_in.html", form=form, next=target), 401
        s.commit()
        if two_factor.required(user):
            lang = web_session.get("lang")
            web_session.clear()
            if lang:
                web_session["lang"] = lang
            web_session["mfa"] = {"uid": user.id, "at": int(time.time()), "next": target}
            return redirect(url_for("console.two_factor"))
        return _signed_in_response(user, target)
    status = 400 if form.errors else 200
    return render_template("console/sign_in.html", form=form, next=target), status


def _pending_user() -> tuple[User, str] | None:
    """The user who gave the right password and still owes the second factor."""
    pending = web_session.get("mfa")
    if not isinstance(pending, dict):
        return None
    started = pending.get("at")
    if not isinstance(started, int) or time.time() - started > TWO_FACTOR_PENDING.total_seconds():
        web_session.pop("mfa", None)
        web_session.pop("mfa_secret", None)
        return None
    user = (
        db_session().get(User, pending.get("uid")) if isinstance(pending.get("uid"), int) else None
    )
    if user is None:
        return None
    return user, safe_next(pending.get("next"), "")


@bp.route("/sign-in/two-factor", methods=["GET", "POST"], endpoint="two_factor")
def two_factor_page():
    pending = _pending_user()
    if pending is None:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("console.sign_in"))
    user, target = pending
    form = forms.TwoFactorForm()
    enrolling = not two_factor.enrolled(user)
    if enrolling:
        secret = web_session.get("mfa_secret")
        if not isinstance(secret, str):
            secret = web_session["mfa_secret"] = two_factor.new_secret()
    if form.validate_on_submit():
        # Only wrong codes count (below): a manager signing in all day is never held back
        refused = rate_limits().check(TWO_FACTOR_ATTEMPTS, str(user.id))
        if refused:
            form.code.errors = [
                _(
                    "Too many wrong codes. Try again in %(wait)s.",
                    wait=_wait_text(refused.retry_after),
                )
            ]
            return _two_factor_render(form, user, secret if enrolling else None), 429
        if enrolling:
            try:
                with atomic(db_session()) as s:
                    codes = two_factor.enrol(s, s.get(User, user.id), secret, form.code.data)
            except LedgerError as error:
                rate_limits().hit(TWO_FACTOR_ATTEMPTS, str(user.id))
                form_error(form, error)
                return _two_factor_render(form, user, secret), 422
            _open_session(user)
            flash(_("Two-factor sign-in is on."), "info")  # after: opening clears notices
            response = make_response(
                render_template(
                    "console/recovery_codes.html", codes=codes, next=target or home_for(user)
                )
            )
            return remember_device(response, account_key(user.email))
        with atomic(db_session()) as s:
            used = two_factor.verify(s, s.get(User, user.id), form.code.data)
        if used is None:
            rate_limits().hit(TWO_FACTOR_ATTEMPTS, str(user.id))
            form.code.errors = [_("The code is wrong or has been used already.")]
            return _two_factor_render(form, user, None), 401
        response = _signed_in_response(user, target)
        if used == "recovery":  # after the new session: signing in clears earlier notices
            left = two_factor.recovery_codes_left(db_session(), user)
            flash(
                _(
                    "You signed in with a recovery code. Recovery codes left: %(num)d. Make "
                    "new ones on the Security page.",
                    num=left,
                ),
                "error",
            )
        return response
    status = 400 if form.errors else 200
    return _two_factor_render(form, user, secret if enrolling else None), status


def _two_factor_render(form, user: User, secret: str | None):
    if secret is None:
        return render_template("console/two_factor.html", form=form, user=user)
    uri = two_factor.provisioning_uri(secret, user, current_app.config["SETTINGS"].fund_name)
    return render_template(
        "console/two_factor_setup.html",
        form=form,
        user=user,
        secret=secret,
        uri=uri,
        qr=two_factor.qr_svg(uri),
    )


@bp.post("/sign-out")
def sign_out():
    row = g.get("console_session")
    if row is not None:
        with atomic(db_session()) as s:
            console_sessions.end(s, s.get(ConsoleSession, row.id), "signed_out")
    lang = web_session.get("lang")
    web_session.clear()
    if lang:
        web_session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("console.sign_in"))


# --- the user's own sessions and second factor -------------------------------------------------


@bp.get("/security")
@signed_in()
def security():
    s = db_session()
    return render_template(
        "console/security.html",
        sessions=console_sessions.active_for(s, me().id),
        current=g.console_session,
        two_factor_on=two_factor.enrolled(me()),
        two_factor_required=two_factor.required(me()),
        codes_left=two_factor.recovery_codes_left(s, me()) if two_factor.enrolled(me()) else 0,
    )


@bp.post("/security/sessions/<int:session_id>/end")
@signed_in()
def end_session(session_id: int):
    if session_id == g.console_session.id:
        return sign_out()
    try:
        with atomic(db_session()) as s:
            console_sessions.end_own(s, user=me(), session_id=session_id)
    except LedgerError:
        abort(404)
    flash(_("The session has ended."), "info")
    return redirect(url_for("console.security"))


@bp.post("/security/sessions/end-others")
@signed_in()
def end_other_sessions():
    with atomic(db_session()) as s:
        ended = console_sessions.end_all(
            s, me().id, "ended_by_user", keep=s.get(ConsoleSession, g.console_session.id)
        )
    flash(_("Other sessions ended: %(num)d.", num=ended), "info")
    return redirect(url_for("console.security"))


@bp.post("/security/recovery-codes")
@signed_in()
def new_recovery_codes():
    if not two_factor.enrolled(me()):
        abort(404)
    with atomic(db_session()) as s:
        codes = two_factor.new_recovery_codes(s, s.get(User, me().id))
    return render_template(
        "console/recovery_codes.html", codes=codes, next=url_for("console.security")
    )


# --- a manager ends another user's sessions ---------------------------------------------------


@bp.post("/users/<int:user_id>/sessions/end")
@signed_in(*MANAGERS)
def revoke_user_sessions(user_id: int):
    target = db_session().get(User, user_id)
    if target is None:
        abort(404)
    try:
        with atomic(db_session()) as s:
            ended = console_sessions.revoke_user(s, actor=me(), target=s.get(User, user_id))
    except LedgerError as error:
        flash(messages.message(error), "error")
    else:
        flash(
            _("Sessions of %(name)s ended: %(num)d.", num=ended, name=target.name),
            "info",
        )
    return redirect(url_for("console.users"))
