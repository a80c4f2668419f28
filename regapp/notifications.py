"""Every SMS and e-mail a person gets, rendered from ``templates/sms`` and ``templates/email``.

Each function renders one message and stores it with :mod:`regapp.messaging` inside the
caller's transaction (R26); the caller dispatches it after the commit. Links to the
portal are built from its routes on ``PUBLIC_URL``, never from copied paths.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import current_app, render_template

from regapp import messaging, metrics, normalize
from regapp.texts import text

#: what a code SMS says the code is for, by the step that sends it
CODE_PURPOSES = {"registration": "регистрации", "recovery": "смены пароля",
                 "change_phone": "смены номера", "change_email": "смены E-mail"}


#: Moscow time: UTC+3 all year since 26.10.2014 (no tz database needed for it)
MOSCOW = dt.timezone(dt.timedelta(hours=3), "МСК")


def moscow_time(moment):
    """«26.11.2026 в 17:05 (МСК)» for a naive UTC moment: the time people read in Russia's
    notices, with its zone said (issue 14)."""
    local = moment.replace(tzinfo=dt.UTC).astimezone(MOSCOW)
    return local.strftime("%d.%m.%Y в %H:%M (МСК)")


def link(endpoint, **values):
    """An absolute link to one of the portal's pages, on ``PUBLIC_URL``."""
    return _public_urls().build(endpoint, values, force_external=True)


def _public_urls():
    public = urlsplit(current_app.config["PUBLIC_URL"])
    return current_app.url_map.bind(public.netloc, script_name=public.path or "/",
                                    url_scheme=public.scheme)


def _renderers(*names):
    """A ``render(context)`` for each template, as ``render_template`` renders it, with what
    Flask's context processors add made once: for a batch of messages that differ only in
    their own values (a fifth of an invitation's making was Flask doing it again, issue 15)."""
    app = current_app._get_current_object()
    added = {}
    app.update_template_context(added)

    def renderer(template):
        # its globals (a ChainMap Jinja walks key by key for every context) read once:
        # the context then passed whole, as ``render`` passes it when told it is shared
        made = {**template.globals, **added}

        def render(context):
            try:
                return template.environment.concat(template.root_render_func(
                    template.new_context({**made, **context}, shared=True)))
            except Exception:  # noqa: BLE001 (said as Template.render says it)
                return template.environment.handle_exception()

        return render

    return [renderer(app.jinja_env.get_template(name)) for name in names]


def _context(**values):
    config = current_app.config
    return {"service": config["SERVICE_NAME"], "help_phone": config["HELP_PHONE"],
            "host": urlsplit(config["PUBLIC_URL"]).hostname, **values}


def code_sms(phone, code, purpose):
    """The code, what it is for, and the WebOTP line (``@host #code``)."""
    body = render_template("sms/code.txt", **_context(code=code, purpose=CODE_PURPOSES[purpose]))
    metrics.CODES_SENT.labels(purpose).inc()
    return messaging.queue_sms(phone, body.strip(), kind="code")


def email_code(address, code, purpose="registration"):
    """An e-mail whose only run of six digits is the code (R17, a new address), saying
    what it is for (a registration, or a change of the account's e-mail)."""
    metrics.CODES_SENT.labels("email").inc()
    body = render_template("email/email_code.txt",
                           **_context(code=code, purpose=CODE_PURPOSES[purpose]))
    return messaging.queue_email(address, text("subject.email_code"), body, kind="email_code")


def invitations(records, tokens, expires):
    """Each record's invitation with its individual link (``tokens``, in the same order) and
    the policy number (R4), not stored yet: the caller stores the batch with
    :func:`regapp.messaging.queue_emails`. What they share is made once a batch."""
    as_text, as_html = _renderers("email/invitation.txt", "email/invitation.html")
    urls, shared = _public_urls(), _context(expires=expires)
    subject = text("subject.invitation", service=current_app.config["SERVICE_NAME"].lower())
    mails = []
    for record, token in zip(records, tokens, strict=True):
        context = {**shared, "record": record,
                   "link": urls.build("invite.form", {"token": token}, force_external=True),
                   "first_name": normalize.display_name(record.first_name),
                   "patronymic": normalize.display_name(record.patronymic)}
        mails.append(messaging.email(to=record.email, kind="invitation", subject=subject,
                                     text=as_text(context), html=as_html(context)))
    return mails


def confirmation_link(account, token):
    """The link that confirms an address (R17, R33): the only mail an unconfirmed one gets."""
    context = _context(link=link("signup.confirm_email", token=token), account=account)
    return messaging.queue_email(
        to=account.email, kind="email_confirmation", subject=text("subject.confirm_email"),
        text=render_template("email/confirm_email.txt", **context),
        html=render_template("email/confirm_email.html", **context))


#: what changed, in the words of the notice
CHANGED = {"phone": "изменён номер телефона", "email": "изменён адрес E-mail",
           "esia_link": "подключён вход через Госуслуги",
           "password": "изменён пароль",
           "esia_unlink": "отключён вход через Госуслуги"}


def contact_changed(old_phone, old_email, kind, new_value=None):
    """Tell the old phone, and the old address when it was confirmed, what changed (issue 12).

    A new contact is named only in the e-mail (masked there), never by SMS.
    """
    shown = _masked(kind, new_value) if new_value else None
    context = _context(what=CHANGED[kind], new_value=shown)
    messages = [messaging.queue_sms(old_phone, render_template("sms/contact_changed.txt",
                                                               **context).strip(),
                                    kind="contact_changed")]
    if old_email:
        messages.append(messaging.queue_email(
            old_email, text("subject.contact_changed"),
            render_template("email/contact_changed.txt", **context), kind="contact_changed"))
    return messages


def _masked(kind, value):
    if kind == "phone":
        return f"{value[:5]}***{value[-2:]}"
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}***@{domain}"


def new_device(account, now):
    """A sign-in from a new browser: by e-mail when it is confirmed, else by SMS."""
    context = _context(when=moscow_time(now), forgot=link("recovery.forgot"))
    if account.email_confirmed:
        return messaging.queue_email(account.email, text("subject.new_device"),
                                     render_template("email/new_device.txt", **context),
                                     kind="new_device")
    return messaging.queue_sms(account.phone, render_template("sms/new_device.txt", **context),
                               kind="new_device")
