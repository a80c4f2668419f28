"""Registration without a link (R13–R17): check the form, find the person, start.

Plain Python. The refusal for "not found" is one message whatever differed
(R15); the reason is kept for support (R31).
"""

from __future__ import annotations

import datetime as dt

from regapp import checks, matching, normalize, registration, support
from regapp.texts import text

NAME_FIELDS = ("last_name", "first_name", "patronymic")


class NotFound(Exception):
    """No roster record matches; ``str()`` is the one message for the person."""


class EsiaMismatch(Exception):
    """Gosuslugi's person is not the roster record found: said before any SMS goes."""


class PasswordRefused(Exception):
    """The password holds the policy number of the record found (R10): said beside the
    password field, before any SMS goes; ``str()`` is the reason."""


def check_form(data, regions=("RU",), min_age=18, today=None, only=None, estimate_later=False):
    """Check the form's fields; return ``(cleaned, errors)`` with errors by field name.
    ``only``: the fields an inline check asks about (the names are always read: the
    password's rules use them); the rest, with their database lookups and the strength
    estimate, are not checked then. ``estimate_later``: a form with nothing else wrong
    leaves the password's strength estimate to :func:`start`, which makes it once with the
    record's words too (issue 15); a form refused anyway has it now, so every problem is
    said at once."""
    def wanted(*names):
        return only is None or not only.isdisjoint(names)

    cleaned, errors = {}, {}
    for name in NAME_FIELDS:
        try:
            cleaned[name] = normalize.check_name_part(data.get(name), required=name != "patronymic")
        except normalize.Invalid as exc:
            errors[name] = str(exc)
    if wanted("birth_date"):
        _check(errors, cleaned, "birth_date", lambda: normalize.parse_birth_date(
            data.get("birth_date"), today=today or dt.date.today(), min_age=min_age))
    if wanted("phone"):
        _check(errors, cleaned, "phone", lambda: normalize.normalize_phone(data.get("phone"),
                                                                           regions))
    if wanted("email"):
        _check(errors, cleaned, "email", lambda: normalize.normalize_email(data.get("email")))
    if wanted("phone", "email"):
        checks.contacts_free(errors, phone=cleaned.get("phone"),
                             email_key=cleaned["email"][1] if "email" in cleaned else None)
    consents = data.get("consents", {})
    checks.consents_given(errors, consents)
    cleaned["consents"] = consents
    cleaned["typed_words"] = [cleaned.get(n, "") for n in NAME_FIELDS] + [data.get("phone", "")]
    if wanted("password", "confirmation"):
        password, confirmation = data.get("password"), data.get("confirmation")
        refused_anyway = bool(errors) or password != confirmation
        checks.new_password(errors, password, confirmation, cleaned["typed_words"],
                            estimate=refused_anyway or not estimate_later)
    return cleaned, errors


def _check(errors, cleaned, name, parse):
    try:
        cleaned[name] = parse()
    except normalize.Invalid as exc:
        errors[name] = str(exc)


def typed(cleaned):
    """The normalized identity the matcher compares."""
    return matching.Typed(
        name_key=normalize.name_key(*(cleaned[n] for n in NAME_FIELDS)),
        birth_date=cleaned["birth_date"], phone=cleaned["phone"], email_key=cleaned["email"][1])


def start(cleaned, password, settings, client=None, today=None, now=None, esia_person=None,
          earlier=None, then=None):
    """Find the person and send the SMS code; return the pending registration. The same
    form sent again (a typo fixed, the back button) reuses ``earlier``, this browser's live
    registration of the same person, phone and e-mail, and the code already sent. ``then``
    goes to :func:`registration.start` (a new registration's transaction).

    :raises NotFound: no active record matches (the reason is kept for support).
    :raises EsiaMismatch: Gosuslugi's person is another than the record found.
    :raises PasswordRefused: the password is too weak, with the typed words and the
        record's (its policy number among them) as context (R10): estimated here once.
    :raises otp.CodeError: codes for this phone are limited right now.
    """
    client = client or registration.Client()
    identity = typed(cleaned)
    match = matching.find(identity, today)
    if match.record is None:
        _password_fits(password, cleaned["typed_words"])  # said first, as the form's check did
        support.refuse(match.reason, "form", name_key=identity.name_key,
                       birth_date=identity.birth_date, phone=identity.phone,
                       email_key=identity.email_key, client_ip=client.ip)
        raise NotFound(text("signup.not_found", help_phone=settings["HELP_PHONE"]))
    record = match.record
    _password_fits(password, [*cleaned["typed_words"], record.last_name, record.first_name,
                              record.patronymic, record.policy_number, cleaned["phone"]])
    esia_id = registration.esia_for(record, esia_person)
    if esia_person and esia_id is None:
        raise EsiaMismatch(text("esia.mismatch", help_phone=settings["HELP_PHONE"]))
    if _same_registration(earlier, record, cleaned):
        registration.refresh_pending(earlier, cleaned, password)
        return earlier
    return registration.start(
        record, cleaned["phone"], cleaned["email"][0], cleaned["consents"], password,
        settings, client, now, email_confirmed=False,
        email_code_required=not match.phone_matches, esia_id=esia_id, then=then)


def _same_registration(earlier, record, cleaned):
    return (earlier is not None and earlier.channel == "form" and earlier.record_id == record.id
            and earlier.phone == cleaned["phone"] and earlier.email_key == cleaned["email"][1]
            and not earlier.phone_confirmed)


def _password_fits(password, words):
    """R10 with the strength estimated once a submit: with the typed words and, once the
    record is known, its own (the hint promises «без … номера полиса»)."""
    errors = {}
    checks.new_password(errors, password, password, words)
    if "password" in errors:
        raise PasswordRefused(errors["password"])


def note_taken(errors, cleaned, client):
    """Keep «уже занят» refusals for support too (R31)."""
    support.note_taken(errors, "form", client.ip, phone=cleaned.get("phone"),
                       email_key=(cleaned.get("email") or (None, None))[1])
