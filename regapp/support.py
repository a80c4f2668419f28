"""What support sees (R31): refused attempts, kept for a while, and one person's state.

:func:`refuse` stores a refused attempt; :func:`lookup` gathers, for a policy
number, a phone or an e-mail, the roster records, accounts, invitations and
recent refusals; :func:`describe` words them so an agent can read them out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from regapp import metrics, normalize
from regapp.invitations import duplicate_email_keys
from regapp.matching import REASONS
from regapp.models import Account, Invitation, Message, Refusal, RosterRecord, utcnow
from regapp.texts import key_of


def refuse(reason, channel, record=None, policy_key=None, name_key=None, birth_date=None,
           phone=None, email_key=None, client_ip=None, now=None):
    """Keep one refused attempt with the normalized inputs that matter."""
    if reason not in REASONS:
        raise ValueError(f"unknown refusal reason {reason!r}")
    metrics.REFUSALS.labels(reason).inc()
    return Refusal.create(
        at=now or utcnow(), reason=reason, channel=channel, record=record,
        policy_key=policy_key or (record.policy_key if record else None), name_key=name_key,
        birth_date=birth_date, phone=phone, email_key=email_key, client_ip=client_ip)


def note_taken(errors, channel, client_ip, record=None, phone=None, email_key=None):
    """Keep the «уже занят» answers a form gave (R31), known by their texts' keys."""
    for name, reason in (("phone", "phone_taken"), ("email", "email_taken")):
        if key_of(errors.get(name)) == f"{name}.taken":
            refuse(reason, channel, record=record, phone=phone, email_key=email_key,
                   client_ip=client_ip)


def purge(retention_days, now=None):
    """Forget refusals older than the retention period; return how many went."""
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    return Refusal.delete().where(Refusal.at < cutoff).execute()


@dataclass
class Findings:
    """Everything known about the person a query names."""

    query: str
    kind: str
    records: list = field(default_factory=list)
    accounts: list = field(default_factory=list)
    invitations: list = field(default_factory=list)
    refusals: list = field(default_factory=list)
    messages: list = field(default_factory=list)  # to the person's phones and addresses


#: a message's kind as support says it
MESSAGE_KINDS = {"code": "код из СМС", "email_code": "код из письма", "invitation": "приглашение",
                 "email_confirmation": "подтверждение e-mail", "contact_changed": "уведомление",
                 "new_device": "вход с нового устройства"}
MESSAGE_STATES = {"pending": "ждёт отправки", "sending": "отправляется", "sent": "отправлено",
                  "failed": "не доставлено", "stale": "не отправлено: код устарел",
                  "refused": "не отправлено: адрес не подтверждён"}


def _classify(query, regions):
    """(kind, key): an e-mail, a phone, or else a policy number."""
    text = query.strip()
    if "@" in text:
        try:
            return "email", normalize.normalize_email(text)[1]
        except normalize.Invalid:
            return "email", text.casefold()
    try:
        return "phone", normalize.normalize_phone(text, regions)
    except normalize.Invalid:
        pass
    try:
        return "policy", normalize.policy_key(text)
    except normalize.Invalid:
        return "policy", ""  # nothing a policy number could be: nobody is found


def lookup(query, regions=("RU",), now=None, limit=20) -> Findings:
    """Gather the roster records, accounts, invitations and recent refusals for ``query``."""
    kind, key = _classify(query, regions)
    found = Findings(query=query, kind=kind)
    column = {"email": "email_key", "phone": "phone", "policy": "policy_key"}[kind]
    found.records = list(RosterRecord.select().where(getattr(RosterRecord, column) == key))
    accounts = Account.select().where(
        Account.record.in_([r.id for r in found.records])
        | ((Account.phone == key) if kind == "phone" else (Account.email_key == key)))
    found.accounts = list(accounts)
    record_ids = {r.id for r in found.records} | {a.record_id for a in found.accounts}
    found.invitations = list(Invitation.select().where(Invitation.record.in_(list(record_ids)))
                             .order_by(Invitation.created_at.desc()).limit(limit))
    found.refusals = list(
        Refusal.select().where((getattr(Refusal, column) == key)
                               | Refusal.record.in_(list(record_ids)))
        .order_by(Refusal.at.desc()).limit(limit))
    contacts = {c for r in found.records for c in (r.phone, r.email) if c}
    contacts |= {c for a in found.accounts for c in (a.phone, a.email) if c}
    found.messages = list(Message.select().where(Message.to.in_(list(contacts)))
                          .order_by(Message.created_at.desc()).limit(limit)) if contacts else []
    return found


def describe(found: Findings, today=None, now=None) -> str:
    """The findings in Russian, a line a fact, for reading out on the help line."""
    today, now = today or dt.date.today(), now or utcnow()
    kinds = {"email": "e-mail", "phone": "телефон", "policy": "номер полиса"}
    lines = [f"Запрос: {found.query} ({kinds[found.kind]})"]
    if not found.records and not found.accounts:
        lines.append("В списках застрахованных и среди пользователей не найден.")
    duplicates = duplicate_email_keys(today)
    for record in found.records:
        lines += _record_lines(record, today)
        if record.email_key in duplicates:
            lines.append("  этот e-mail указан у нескольких застрахованных: приглашение не "
                         "отправляется, пока список не исправят")
    for account in found.accounts:
        lines += _account_lines(account)
    for invitation in found.invitations:
        lines.append(_invitation_line(invitation, now))
    if found.refusals:
        lines.append("Отказы при регистрации (новые сверху):")
        for refusal in found.refusals:
            lines.append(f"  {refusal.at:%d.%m.%Y %H:%M} UTC, "
                         f"{'по ссылке' if refusal.channel == 'link' else 'без ссылки'}: "
                         f"{REASONS[refusal.reason]}")
    else:
        lines.append("Отказов при регистрации не было.")
    if found.messages:
        lines.append("Сообщения (новые сверху):")
        lines += [_message_line(m) for m in found.messages]
    return "\n".join(lines)


def _message_line(message):
    state = MESSAGE_STATES.get(message.status, message.status)
    if message.status == "failed" and message.last_error:
        state += f" ({message.last_error})"
    return (f"  {message.created_at:%d.%m.%Y %H:%M} UTC, "
            f"{MESSAGE_KINDS.get(message.kind, message.kind)} на {message.to}: {state}")


def _record_lines(record, today):
    name = " ".join(p for p in (record.last_name, record.first_name, record.patronymic) if p)
    period = (f"с {record.valid_from:%d.%m.%Y}" if record.valid_from else "") + (
        f" по {record.valid_to:%d.%m.%Y}" if record.valid_to else " (без даты окончания)")
    state = "действует" if record.is_active(today) else "не действует сегодня"
    return [
        f"Полис {record.policy_number}: {name}, дата рождения {record.birth_date:%d.%m.%Y}",
        f"  страхователь: {record.employer or '—'}; полис {state}, {period.strip()}",
        f"  в списке: телефон {record.phone or '—'}, e-mail {record.email or '—'}",
    ]


def _account_lines(account):
    email_state = "подтверждён" if account.email_confirmed else "не подтверждён"
    gosuslugi = "связан с Госуслугами" if account.esia_id else "без Госуслуг"
    return [f"Зарегистрирован {account.created_at:%d.%m.%Y}: телефон {account.phone}, "
            f"e-mail {account.email} ({email_state}), {gosuslugi}"]


def _invitation_line(invitation, now):
    if invitation.spent_at:
        state = f"использовано {invitation.spent_at:%d.%m.%Y}"
    elif invitation.revoked_at:
        state = "заменено новым"
    elif invitation.expires_at <= now:
        state = f"просрочено {invitation.expires_at:%d.%m.%Y}"
    else:
        state = f"действует до {invitation.expires_at:%d.%m.%Y}"
    return (f"Приглашение на {invitation.email} от {invitation.created_at:%d.%m.%Y}: {state}")
