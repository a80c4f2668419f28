"""The staff console (issue 16) at ``/staff``: operators and support in a browser, signed in
through the insurer's OpenID Connect provider, every look at a person's data audited.

Its own session cookie and path (:class:`regapp.sessions.StaffSessions`), so its own CSRF
token; ``Cache-Control: no-store``; its own limits. Off (404) without the
``STAFF_OIDC_*`` settings, except in QA mode, whose fake provider (``regapp.qa``) fills them.
"""

from regapp.staff import sso


def init_app(app):
    if not sso.configured(app.config):
        return
    from regapp.staff import views

    sso.init_app(app)
    views.init_app(app)
