"""Who is signed in to the staff console, and what their roles let them reach."""

from __future__ import annotations

import functools

from flask import abort, redirect, session, url_for


def current_staff():
    """The signed-in member (``{sub, name, email, roles}``), or None."""
    return session.get("staff")


def staff_required(role):
    """The view needs a signed-in member with ``role``; others get sign-in or 403."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            staff = current_staff()
            if staff is None:
                return redirect(url_for("staff.login"), code=303)
            if role not in staff["roles"]:
                abort(403)
            return view(staff, *args, **kwargs)

        return wrapped

    return decorate
