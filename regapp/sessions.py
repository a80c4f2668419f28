"""Sessions on the server (issue 12, ASVS V7): the cookie holds a random key, nothing else.

Everything a session knows (who is signed in, a registration in progress, ESIA's person,
the phone being recovered) lives in a ``WebSession`` row found by the key's SHA-256. A
copied cookie stops working at sign-out (the row is deleted), the key changes at sign-in
and at every change of privilege (:meth:`ServerSession.regenerate`), and a session ends
after ``SESSION_IDLE_MINUTES`` unused and ``SESSION_MAX_HOURS`` in all. A row is written
only when there is something to keep, so a passing bot leaves nothing behind: a form's
CSRF token alone is none. A visitor with nothing stored holds a visitor's key (``v…``),
never looked up, its CSRF token the key's HMAC (:func:`_key_token`); the first thing
kept is stored under a new key, so a key planted in a browser never carries what the
person does next (issue 15: the registration page wrote a row a visitor, a bot's GETs
included, and every request of a registration's first step looked up its key).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets

from flask import g
from flask.sessions import SessionInterface, SessionMixin
from peewee import InterfaceError, OperationalError
from werkzeug.datastructures import CallbackDict

from regapp.db import database
from regapp.models import WebSession, utcnow
from regapp.statements import Kept, KeptInsert
from regapp.tokens import hash_token

#: a session whose row could not be read: the database was out of reach
UNREACHABLE = object()
#: last_seen is written at most this often for a session that did not change
TOUCH_EVERY = dt.timedelta(minutes=1)
#: a visitor's key: nothing is stored under it, so it is never looked up
VISITOR_KEY = re.compile(r"^v[A-Za-z0-9_-]{43}$")

#: the statements every request runs, their SQL written once (issue 15)
_BY_ID = Kept(lambda row_id: WebSession.select().where(WebSession.id == row_id), 1)
_NEW = KeptInsert(WebSession)
_CHANGE = Kept(lambda account, data, now, row_id: WebSession.update(
    account=account, data=data, last_seen_at=now).where(WebSession.id == row_id), 4)
_TOUCH = Kept(lambda now, row_id: WebSession.update(last_seen_at=now).where(
    WebSession.id == row_id), 2)
_DELETE = Kept(lambda row_id: WebSession.delete().where(WebSession.id == row_id), 1)
#: a stored session's row made another, every column its key's hash too: the slots are
#: the new row's values (as _NEW takes them), then the old row's id
_REPLACE = Kept(lambda *values: WebSession.update(
    dict(zip(_NEW.fields, values[:-1], strict=True))).where(WebSession.id == values[-1]),
    len(_NEW.fields) + 1)


class ServerSession(CallbackDict, SessionMixin):
    """A session whose data is kept on the server under ``key``."""

    def __init__(self, data=None, key=None, row=None, key_token=None, new_key=False):
        def on_update(session):
            session.modified = True

        super().__init__(data or {}, on_update)
        self.key, self.row = key, row
        self.modified = False
        self.rotate = False
        self.key_token = key_token  # (CSRF field, the token the key stands for), or None
        self.new_key = new_key  # a visitor's key the browser does not hold yet

    def keeps_nothing(self):
        """Empty, or holding only the CSRF token its key stands for."""
        return not self or (self.key_token is not None and dict(self) == dict([self.key_token]))

    def regenerate(self):
        """A new key for the same data (sign-in, a change of privilege): the old one dies."""
        self.rotate = True
        self.modified = True

    def snapshot(self):
        """Everything the session is now, for :meth:`restore`."""
        return dict(self), dict(vars(self))

    def restore(self, snapshot):
        """Back to a :meth:`snapshot`: what a failed transaction changed here is undone too."""
        data, state = snapshot
        self.clear()
        self.update(data)
        vars(self).clear()
        vars(self).update(state)


class ServerSessions(SessionInterface):
    """Flask's session interface over the ``WebSession`` table."""

    def open_session(self, app, request):
        key = request.cookies.get(self.get_cookie_name(app))
        if key and VISITOR_KEY.match(key):
            return _visitor(app, key)
        if key:
            try:
                row = _BY_ID.first(hash_token(key))
            except (OperationalError, InterfaceError):  # the page will say «недоступен»
                return ServerSession(key=key, row=UNREACHABLE)
            if row is not None and not _ended(row, app.config, utcnow()):
                return ServerSession(json.loads(row.data), key=key, row=row)
        return _visitor(app, "v" + secrets.token_urlsafe(32), new_key=True)

    def save_session(self, app, session, response):
        if session.row is UNREACHABLE:
            return  # the database was out of reach: leave the browser's key as it is
        try:
            self._save(app, session, response)
        except (OperationalError, InterfaceError) as exc:
            app.logger.error("session not saved, the database is out of reach: %s", exc)

    def _save(self, app, session, response):
        now = utcnow()
        if session.keeps_nothing():
            if session.row is not None:  # signed out, or cleared: the stored session ends
                _DELETE.run(session.row.id)
                response.delete_cookie(self.get_cookie_name(app), path=self.get_cookie_path(app),
                                       domain=self.get_cookie_domain(app))
            elif session.new_key and session.key_token[0] in g:  # a form's token went out
                self._send_key(app, session, response)
            return
        if session.modified or session.rotate or session.row is None:
            self._store(session, now, app)
        elif now - session.row.last_seen_at > TOUCH_EVERY:
            _TOUCH.run(now, session.row.id)
        self._send_key(app, session, response)

    def store_now(self, app, session):
        """Store the session's row now, in the caller's transaction: what it points at and
        the row one commit (issue 15); the response then only sends its key."""
        if session.row is UNREACHABLE:
            return  # as :meth:`save_session`: the browser's key is left as it is
        self._store(session, utcnow(), app)
        session.modified = False

    def _send_key(self, app, session, response):
        response.vary.add("Cookie")
        response.set_cookie(
            self.get_cookie_name(app), session.key, path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app), secure=self.get_cookie_secure(app),
            httponly=True, samesite=self.get_cookie_samesite(app))

    def _store(self, session, now, app):
        from flask import request

        old = session.row
        if session.rotate or session.row is None:  # a visitor's key is never stored
            session.key, session.row = secrets.token_urlsafe(32), None
            session.rotate = False
        data, account = json.dumps(dict(session)), session.get("account_id")
        if session.row is not None:
            _CHANGE.run_later(account, data, now, session.row.id)  # as the INSERT below
            return
        row = WebSession(
            id=hash_token(session.key), public_id=secrets.token_urlsafe(8), account=account,
            data=data, created_at=now, last_seen_at=now,
            user_agent=request.headers.get("User-Agent", "")[:300],
            client_ip=request.remote_addr)
        session.row = row
        if old is not None and database.in_transaction():
            # in a transaction (:meth:`store_now`) both go with its COMMIT: no round trip
            _DELETE.run_later(old.id)
        # outside one, a new key for a stored session: its row becomes the new one, the
        # old key dead with it (one statement, not a DELETE and an INSERT)
        elif old is not None and _REPLACE.run(*_NEW.values(row), old.id).rowcount:
            return
        _NEW.save_later(row)  # in a transaction, with its COMMIT (:meth:`store_now`)


def _visitor(app, key, new_key=False):
    """A session with nothing stored under ``key``: its CSRF token is the key's HMAC."""
    field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = _key_token(app, key)
    return ServerSession({field: token}, key=key, key_token=(field, token), new_key=new_key)


def _key_token(app, key):
    """The CSRF token a key stands for: only the server can make it from the key, and
    only the browser holding the key (an HttpOnly cookie) sends both."""
    secret = app.secret_key if isinstance(app.secret_key, bytes) else app.secret_key.encode()
    return hmac.new(secret, f"csrf:{key}".encode(), hashlib.sha256).hexdigest()


def _ended(row, settings, now):
    idle = dt.timedelta(minutes=settings["SESSION_IDLE_MINUTES"])
    most = dt.timedelta(hours=settings["SESSION_MAX_HOURS"])
    return now - row.last_seen_at > idle or now - row.created_at > most


def of_account(account, settings, now=None):
    """The account's live sessions, most recently seen first (for the account page)."""
    now = now or utcnow()
    rows = (WebSession.select().where(WebSession.account == account)
            .order_by(WebSession.last_seen_at.desc()))
    return [row for row in rows if not _ended(row, settings, now)]


def end(account, public_id):
    """End one of the account's sessions; False when there is no such one."""
    return WebSession.delete().where((WebSession.account == account)
                                     & (WebSession.public_id == public_id)).execute() > 0


def end_all(account, keep=None):
    """End every session of the account, but ``keep`` (a session's row id) if given."""
    query = WebSession.delete().where(WebSession.account == account)
    if keep is not None:
        query = query.where(WebSession.id != keep)
    return query.execute()


def purge(settings, now=None):
    """Forget sessions that have ended (a periodic task)."""
    now = now or utcnow()
    idle = now - dt.timedelta(minutes=settings["SESSION_IDLE_MINUTES"])
    oldest = now - dt.timedelta(hours=settings["SESSION_MAX_HOURS"])
    return WebSession.delete().where((WebSession.last_seen_at < idle)
                                     | (WebSession.created_at < oldest)).execute()


#: the staff console's area: its own sessions, cookie and path (issue 16)
STAFF_PATH = "/staff"
STAFF_COOKIE = "regapp_staff"


class StaffSessions(ServerSessions):
    """The staff console's sessions: the same rows, under a cookie of their own that only
    ``/staff`` sees, so an insured person's session never reaches the console, nor a staff
    session the portal."""

    def get_cookie_name(self, app):
        return STAFF_COOKIE

    def get_cookie_path(self, app):
        return STAFF_PATH


def is_staff_path(path):
    return path == STAFF_PATH or path.startswith(STAFF_PATH + "/")


class AreaSessions(SessionInterface):
    """The portal's sessions, or the staff console's under ``/staff``."""

    def __init__(self):
        self.people, self.staff = ServerSessions(), StaffSessions()

    def _of(self, request):
        return self.staff if is_staff_path(request.path) else self.people

    def open_session(self, app, request):
        return self._of(request).open_session(app, request)

    def save_session(self, app, session, response):
        from flask import request

        return self._of(request).save_session(app, session, response)

    def store_now(self, app, session):
        from flask import request

        return self._of(request).store_now(app, session)


def stored(session):
    """What the session's row holds now, another request of the same browser may have
    changed it since this one read it (None: not stored, or ended)."""
    if session.row is None or session.row is UNREACHABLE:
        return None
    row = _BY_ID.first(session.row.id)
    return json.loads(row.data) if row is not None else None


def store_now():
    """This request's session stored now, in the caller's transaction (:meth:`ServerSessions.store_now`)."""
    from flask import current_app, session

    current_app.session_interface.store_now(current_app, session)


def init_app(app):
    app.session_interface = AreaSessions()
