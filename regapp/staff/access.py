"""Who is signed in to the staff console, and what their roles let them reach.

A member's roles are what the provider said at sign-in, and then what it says when asked
again every ``STAFF_RECHECK_SECONDS`` (:func:`regapp.staff.sso.recheck`): somebody taken
out of the staff groups, or disabled in the directory, is signed out at their next
request after that, not when their session would have ended (12 hours at most).
"""

from __future__ import annotations

import functools
import logging
import time

from flask import abort, current_app, flash, session, url_for

from regapp import audit, sessions
from regapp.rendering import hx_redirect
from regapp.staff import sso
from regapp.texts import text

log = logging.getLogger("regapp.staff")

#: in the staff session beside the member: the provider's refresh token, when the
#: provider last confirmed the member, and when to ask again after it did not answer
#: (Unix times)
REFRESH_TOKEN, CONFIRMED_AT, RETRY_AT = (
    "staff_refresh_token", "staff_confirmed_at", "staff_retry_at")
#: a provider that did not answer is asked again after a quarter of the interval, half a
#: minute at most: not at every request, each of which would wait for it
RETRY_AFTER_MOST = 30


def begin(staff, refresh_token):
    """The member signed in just now, in a session of a new key: a planted or seen key is
    dead."""
    session.clear()
    session.regenerate()
    session["staff"] = staff
    session[REFRESH_TOKEN] = refresh_token
    session[CONFIRMED_AT] = time.time()
    if not refresh_token and current_app.config["STAFF_RECHECK_SECONDS"]:
        log.warning("the staff provider gave no refresh token: %s is signed out at the "
                    "next look, in STAFF_RECHECK_SECONDS", staff["sub"])


def current_staff():
    """The signed-in member (``{sub, name, email, roles}``), or None."""
    staff = session.get("staff")
    every, now = current_app.config["STAFF_RECHECK_SECONDS"], time.time()
    if (staff is not None and every and now - session.get(CONFIRMED_AT, 0) >= every
            and now >= session.get(RETRY_AT, 0)):
        staff = _asked_again(staff, every)
    return staff


def _asked_again(staff, every):
    """The member as the provider confirms them now, or None once they are signed out."""
    client = current_app.extensions["regapp.staff_sso"]
    try:
        now_staff, refresh_token = sso.recheck(client, current_app.config, staff,
                                               session.get(REFRESH_TOKEN))
    except sso.ProviderDown as exc:
        # a provider down a moment leaves the console working, for one look more at most
        if time.time() - session.get(CONFIRMED_AT, 0) < 2 * every:
            log.warning("the staff provider did not answer (%s): %s kept for now", exc,
                        staff["sub"])
            session[RETRY_AT] = time.time() + min(every / 4, RETRY_AFTER_MOST)
            return staff
        return _signed_out(staff, text("staff.provider_down"))
    except sso.GrantEnded as exc:
        return _confirmed_meanwhile() or _signed_out(staff, str(exc))
    except sso.SignInRefused as exc:
        return _signed_out(staff, str(exc))
    if now_staff["roles"] != staff["roles"]:
        audit.record(now_staff, "roles_changed", was=",".join(staff["roles"]))
    session.update({"staff": now_staff, REFRESH_TOKEN: refresh_token,
                    CONFIRMED_AT: time.time()})
    sessions.store_now()  # now, not at the response: a request racing this one reads it
    return now_staff


def _confirmed_meanwhile():
    """The member as another request of this browser confirmed them while this one asked
    with the same refresh token (spent by the other, when the provider gives a new one
    each time), or None."""
    now = sessions.stored(session)
    if now and now.get("staff") and now.get(CONFIRMED_AT, 0) > session.get(CONFIRMED_AT, 0):
        session.update({key: now[key] for key in ("staff", REFRESH_TOKEN, CONFIRMED_AT)})
        return now["staff"]
    return None


def _signed_out(staff, why):
    audit.record(staff, "signed_out_by_provider", reason=why)
    end(why, "error")
    return None


def end(message, category):
    """Sign out here, the key dead with it; ``message`` said on the sign-in page."""
    session.clear()
    session.regenerate()
    flash(message, category)


def staff_required(role):
    """The view needs a signed-in member with ``role``; others get sign-in or 403."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                # a job page's poll loads the sign-in page whole, not into the job's place
                return hx_redirect(url_for("staff.login"))
            if role not in staff["roles"]:
                abort(403)
            return view(staff, *args, **kwargs)

        return wrapped

    return decorate
