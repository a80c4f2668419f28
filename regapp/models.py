"""The stored things: roster records, accounts, invitations, outgoing messages."""

from __future__ import annotations

import datetime as dt
import uuid

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from regapp.db import database


def utcnow():
    """Now, in UTC, without tzinfo (what the database stores)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class RosterRecord(BaseModel):
    """One insured person as the employer's roster lists them (R1)."""

    policy_number = CharField()  # as the roster writes it, for display
    policy_key = CharField(unique=True)  # normalized (R8): the upsert key (R3)
    last_name = CharField()
    first_name = CharField()
    patronymic = CharField(default="")
    name_key = CharField(index=True)  # the normalized word sequence (R14)
    birth_date = DateField()
    phone = CharField(null=True, index=True)  # E.164
    email = CharField(null=True)  # as given, for sending
    email_key = CharField(null=True, index=True)  # case-folded, for comparing (R5)
    employer = CharField(default="")
    valid_from = DateField(null=True)
    valid_to = DateField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    #: the fields an import compares to tell "updated" from "unchanged"
    DATA_FIELDS = (
        "policy_number", "last_name", "first_name", "patronymic", "name_key",
        "birth_date", "phone", "email", "email_key", "employer", "valid_from", "valid_to",
    )

    def is_active(self, today=None):
        """Whether the policy is in force on ``today`` (R1)."""
        today = today or dt.date.today()
        started = self.valid_from is None or self.valid_from <= today
        return started and (self.valid_to is None or self.valid_to >= today)

    @classmethod
    def active_on(cls, today=None):
        """A condition matching records whose policy is in force on ``today``."""
        today = today or dt.date.today()
        return ((cls.valid_from.is_null()) | (cls.valid_from <= today)) & (
            (cls.valid_to.is_null()) | (cls.valid_to >= today)
        )


class Account(BaseModel):
    """A registered person's personal account; uniqueness lives here (R29)."""

    record = ForeignKeyField(RosterRecord, unique=True, backref="accounts")
    phone = CharField(unique=True)  # E.164
    email = CharField()
    #: unique among confirmed addresses only: an unconfirmed claim yields to the owner
    #: who confirms it (issue 12; the partial index below)
    email_key = CharField(index=True)
    email_confirmed = BooleanField(default=False)
    password_hash = CharField()
    esia_id = CharField(null=True, unique=True)
    created_at = DateTimeField(default=utcnow)
    #: sessions carry this number; raising it signs the account out everywhere
    session_epoch = IntegerField(default=0)


CONFIRMED_EMAIL_INDEX = "account_email_key_confirmed"
Account.add_index(Account.index(Account.email_key, unique=True, name=CONFIRMED_EMAIL_INDEX)
                  .where(Account.email_confirmed == True))  # noqa: E712


class Message(BaseModel):
    """An outgoing SMS or e-mail, stored with the step that asked for it (R26)."""

    id = CharField(primary_key=True, default=lambda: uuid.uuid4().hex)
    channel = CharField()  # "sms" | "email"
    kind = CharField()  # "invitation", "code", "email_confirmation", …
    to = CharField()
    subject = CharField(null=True)
    text = TextField()
    html = TextField(null=True)
    status = CharField(default="pending", index=True)  # pending, sending, sent, failed, refused
    attempts = IntegerField(default=0)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    next_attempt_at = DateTimeField(default=utcnow)
    claim = CharField(null=True, index=True)  # the worker round holding it
    lease_until = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)

    class Meta:
        # a person's newest code (its page, a stale one kept from going): without it, a
        # scan of every message ever sent, twice a registration (issue 15)
        indexes = ((("to", "kind", "created_at"), False),)


class Invitation(BaseModel):
    """An individual registration link sent to a roster record's e-mail (R4–R6)."""

    record = ForeignKeyField(RosterRecord, backref="invitations")
    token_hash = CharField(unique=True)  # SHA-256 of the token in the link
    email = CharField()
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    spent_at = DateTimeField(null=True)  # registration completed through it
    revoked_at = DateTimeField(null=True)  # replaced by a re-sent one
    message = ForeignKeyField(Message, null=True)

    @classmethod
    def live(cls, now=None):
        """A condition matching invitations that can still be used."""
        now = now or utcnow()
        return cls.spent_at.is_null() & cls.revoked_at.is_null() & (cls.expires_at > now)


class OneTimeCode(BaseModel):
    """A one-time code sent by SMS or e-mail (R28); only its HMAC is kept."""

    purpose = CharField()  # "registration", "email", "recovery", …
    target = CharField(index=True)  # E.164 phone or e-mail key
    salt = CharField()
    code_hash = CharField()
    created_at = DateTimeField(default=utcnow, index=True)
    expires_at = DateTimeField()
    wrong_tries = IntegerField(default=0)
    closed_at = DateTimeField(null=True)
    closed_reason = CharField(null=True)  # used, tries, expired, replaced


class PendingRegistration(BaseModel):
    """A filled form waiting for its code(s): the state lives here, not in the browser."""

    id = CharField(primary_key=True)  # random, kept in the signed session
    record = ForeignKeyField(RosterRecord)
    invitation = ForeignKeyField(Invitation, null=True)
    phone = CharField()
    email = CharField()
    email_key = CharField()
    email_confirmed = BooleanField(default=False)
    password_hash = CharField()
    consents = TextField()  # JSON: kind → {granted, document, version, sha256, label}
    channel = CharField()  # "link" | "form"
    client_ip = CharField(null=True)
    user_agent = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    account = ForeignKeyField(Account, null=True)  # set when completed
    phone_confirmed = BooleanField(default=False)
    email_code_required = BooleanField(default=False)  # R17: the phone differs from the roster's
    esia_id = CharField(null=True)  # the Gosuslugi oid to store on the account (R20)


class EmailConfirmation(BaseModel):
    """A link that confirms an account's e-mail (R17, R33); only its hash is kept."""

    account = ForeignKeyField(Account, backref="email_confirmations")
    email_key = CharField()
    token_hash = CharField(unique=True)
    created_at = DateTimeField(default=utcnow)
    used_at = DateTimeField(null=True)


class ConsentEvent(BaseModel):
    """One consent given or withdrawn (R11): append-only proof of what was shown."""

    account = ForeignKeyField(Account, null=True, backref="consent_events")
    record = ForeignKeyField(RosterRecord)
    kind = CharField()  # terms | pd | marketing
    granted = BooleanField()
    document = CharField()
    version = CharField()
    text_sha256 = CharField()
    label = TextField()
    channel = CharField()
    client_ip = CharField(null=True)
    user_agent = TextField(null=True)
    at = DateTimeField(default=utcnow)


class Refusal(BaseModel):
    """A refused registration attempt, kept for support (R31)."""

    at = DateTimeField(default=utcnow, index=True)
    reason = CharField()  # a key of regapp.matching.REASONS
    channel = CharField()  # "link" | "form"
    record = ForeignKeyField(RosterRecord, null=True)
    policy_key = CharField(null=True, index=True)
    name_key = CharField(null=True)
    birth_date = DateField(null=True)
    phone = CharField(null=True, index=True)
    email_key = CharField(null=True, index=True)
    client_ip = CharField(null=True)


class SignInThrottle(BaseModel):
    """Failed sign-ins by typed phone or by address, and how long to wait (issue 6)."""

    key = CharField(primary_key=True)  # "phone:+7…" or "address:203.0.113.7"
    failures = IntegerField(default=0)
    last_failure_at = DateTimeField(null=True)
    locked_until = DateTimeField(null=True)


class KnownDevice(BaseModel):
    """A browser an account has signed in from (its cookie's hash), for new-device notices."""

    account = ForeignKeyField(Account, backref="devices")
    device_hash = CharField()
    first_seen = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "device_hash"), True),)


class SchemaVersion(BaseModel):
    """The schema's version, one row."""

    version = IntegerField()


class WebSession(BaseModel):
    """A browser's session, kept on the server; the cookie holds only the key (issue 12)."""

    id = CharField(primary_key=True)  # SHA-256 of the cookie's key
    public_id = CharField(unique=True)  # names it on the account page, without the key
    account = ForeignKeyField(Account, null=True, backref="sessions", on_delete="CASCADE")
    data = TextField()
    created_at = DateTimeField(index=True)
    last_seen_at = DateTimeField(index=True)
    user_agent = CharField(default="")
    client_ip = CharField(null=True)


class AuditEvent(BaseModel):
    """One look by staff at a person's data, or one staff action (issue 16, 152-FZ).
    Append-only: the database itself refuses to change or delete a row (migration 13)."""

    at = DateTimeField(default=utcnow, index=True)
    staff = CharField()  # the SSO subject
    staff_name = CharField(default="")
    roles = CharField(default="")  # "operator,support" as the sign-in granted
    action = CharField()
    subject = CharField(default="")  # whose data: what was searched, a policy number
    reason = TextField(default="")
    details = TextField(default="")  # JSON: what the action did


class StaffJob(BaseModel):
    """A long piece of staff work run by the queue, not in a request (issue 16): a roster
    checked or loaded, invitations sent. Its progress lives in the queue's storage (the
    work's own transaction keeps it from this row until the end)."""

    id = CharField(primary_key=True)
    kind = CharField()  # roster_check | roster_load | invitations
    status = CharField(default="queued")  # queued | running | done | failed
    staff = CharField()
    filename = CharField(default="")  # the upload's name as the operator had it
    path = CharField(default="")  # where the upload is kept meanwhile
    result = TextField(default="")  # JSON: the report
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)


#: the tables of schema version 1; later ones are added by their own migration steps
FIRST_TABLES = (RosterRecord, Account, Message, Invitation)
