"""E-mail sender ``smtp``: a real SMTP conversation, one connection per batch, its
commands pipelined (RFC 2920) when the server offers it.

Settings: ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_TLS`` (``none``, ``starttls``
or ``ssl``), ``SMTP_USER`` and ``SMTP_PASSWORD`` (login only when a user is
set), ``MAIL_FROM``, ``SMTP_TIMEOUT``, and ``SMTP_CA_FILE`` to trust a
private certificate authority.
"""

import base64
import contextlib
import datetime as dt
import functools
import re
import smtplib
import ssl
import uuid
from email import message_from_bytes
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from regapp.adapters import ContractEnvironment, DeliveryError, EmailSender, Received
from regapp.hookspecs import hookimpl
from regapp.normalize import ascii_address

#: connection-level failures: the rest of the batch cannot go either
_CONNECTION_ERRORS = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, ssl.SSLError)


class SmtpEmailSender(EmailSender):
    """Sends multipart (text + HTML) UTF-8 e-mails through an SMTP server."""

    name = "smtp"
    required = ("SMTP_HOST", "MAIL_FROM")

    def send_batch(self, emails):
        if not emails:
            return []
        sender, results = self._envelope_from(), {}
        if _breaks_line(sender):  # no command of its own smuggled in: nothing is sent
            return [_refusal(501, "a line break in the sender's address")] * len(emails)
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP server unreachable: {exc}") from None
        pipeline = (_Pipeline(connection, sender, results)
                    if connection.has_extn("pipelining") else None)
        with contextlib.closing(connection):
            try:
                for index, email in enumerate(emails):
                    self._send_one(connection, pipeline, sender, results, index, email)
                if pipeline is not None:
                    pipeline.finish()
            except _CONNECTION_ERRORS as exc:  # what is not known sent goes again
                lost = DeliveryError(f"SMTP connection lost: {exc}")
                results.update({index: lost for index in range(len(emails))
                                if index not in results})
        return [results[index] for index in range(len(emails))]

    def _send_one(self, connection, pipeline, sender, results, index, email):
        """Send one message; its outcome goes in ``results`` once known (pipelined, with
        the next one's replies)."""
        to = ascii_address(email.to)
        if email.to.isascii() and pipeline is not None:
            pipeline.send(index, to, self.compose_bytes(email))
            return
        if pipeline is not None:
            pipeline.finish()  # what is owed first: this one goes by itself
        try:
            if email.to.isascii():
                connection.sendmail(sender, [to], self.compose_bytes(email))
            else:  # the email package writes any address (a Cyrillic one) right
                connection.send_message(self._compose_any(email), from_addr=sender,
                                        to_addrs=[to])
            results[index] = None
        except smtplib.SMTPRecipientsRefused as exc:
            results[index] = _refusal(*next(iter(exc.recipients.values())))
        except smtplib.SMTPResponseException as exc:
            results[index] = _refusal(exc.smtp_code, exc.smtp_error)

    def compose(self, email):
        """Build the MIME message: text, optional HTML, RFC 2047 subject, ids and date."""
        if not email.to.isascii():
            return self._compose_any(email)
        # an ASCII address, nearly every one: written out directly, several times faster
        # than the email package's header parsing and refolding (issue 15); the parts
        # are the same (tests/test_delivery.py parses them)
        return message_from_bytes(self.compose_bytes(email))

    def compose_bytes(self, email):
        """The message :meth:`compose` builds, as the bytes that go over SMTP."""
        headers = [f"From: {self._from_header()}", f"To: {email.to}",
                   f"Subject: {_encoded(email.subject)}",
                   f"Date: {format_datetime(dt.datetime.now(dt.UTC))}",
                   f"Message-ID: <{email.message_id}@{self._domain()}>", "MIME-Version: 1.0"]
        text = _part("plain", email.text)
        if not email.html:
            return "\r\n".join([*headers, text]).encode("ascii")
        boundary = f"==_regapp_{uuid.uuid4().hex}"  # "==_" never starts a base64 line
        body = (f"--{boundary}\r\n{text}--{boundary}\r\n{_part('html', email.html)}"
                f"--{boundary}--\r\n")
        return "\r\n".join([*headers, f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
                             "", body]).encode("ascii")

    def _from_header(self):
        return _from_header(self.settings["MAIL_FROM"])

    def _compose_any(self, email):
        """compose() through EmailMessage, which writes any address (a Cyrillic one) right."""
        message = EmailMessage()
        message["From"] = self.settings["MAIL_FROM"]
        message["To"] = _header_address(email.to)
        message["Subject"] = email.subject
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        # the same on every attempt, so a retry after a lost answer is known as a repeat
        message["Message-ID"] = f"<{email.message_id}@{self._domain()}>"
        message.set_content(email.text, charset="utf-8")
        if email.html:
            message.add_alternative(email.html, subtype="html", charset="utf-8")
        return message

    def _connect(self):
        host = self.settings["SMTP_HOST"]
        port = int(self.settings.get("SMTP_PORT") or 25)
        timeout = self.settings.get("SMTP_TIMEOUT", 30)
        mode = (self.settings.get("SMTP_TLS") or "none").lower()
        if mode == "ssl":
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls())
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
            if mode == "starttls":
                connection.starttls(context=self._tls())
        if self.settings.get("SMTP_USER"):
            connection.login(self.settings["SMTP_USER"], self.settings.get("SMTP_PASSWORD") or "")
        connection.ehlo_or_helo_if_needed()  # what it offers: PIPELINING, SIZE
        return connection

    def _tls(self):
        return ssl.create_default_context(cafile=self.settings.get("SMTP_CA_FILE"))

    def _envelope_from(self):
        return ascii_address(Address(addr_spec=_addr_spec(self.settings["MAIL_FROM"])).addr_spec)

    def _domain(self):
        return _addr_spec(self.settings["MAIL_FROM"]).rpartition("@")[2]


class _Pipeline:
    """Messages over one connection with PIPELINING (RFC 2920): a message's MAIL, RCPT and
    DATA written at once, its content with the next message's three (the content may lead
    a group), so one wait for the server a message, not three or two (issue 15: the waits
    were a third of an invitation's time). A refusal resets the transaction with an RSET
    in the next write. Each outcome goes in ``results`` (index → None or the refusal) as
    its reply is read: with the next message's, or at :meth:`finish`."""

    def __init__(self, connection, sender, results):
        self.connection, self.sender, self.results = connection, sender, results
        self.size = connection.has_extn("size")
        self.head, self.owed = b"", []  # what the next write starts with; whose replies

    def send(self, index, to, message):
        if _breaks_line(to):  # no command of its own smuggled in: never sent
            self.results[index] = _refusal(501, "a line break in the address")
            return
        size = f" SIZE={len(message)}" if self.size else ""
        self._write(f"MAIL FROM:<{self.sender}>{size}\r\nRCPT TO:<{to}>\r\nDATA\r\n"
                    .encode("ascii"))
        mail, rcpt, data = self._replies(3)
        if data[0] == 354 and mail[0] == 250 and rcpt[0] in (250, 251):
            self.head = _DOTS.sub(b"..", message).removesuffix(b"\r\n") + b"\r\n.\r\n"
            self.owed = [index]
            return
        # a server taking DATA after a refusal gets an empty message it will not send
        self.head, self.owed = (b".\r\nRSET\r\n", [None, None]) if data[0] == 354 else (
            b"RSET\r\n", [None])
        self.results[index] = _refusal(*next(
            (reply for reply in (mail, rcpt) if reply[0] not in (250, 251)), data))

    def finish(self):
        """Read what is owed: the last message's outcome."""
        if self.owed:
            self._write(b"")

    def _write(self, commands):
        self.connection.send(self.head + commands)
        owed, self.head, self.owed = self.owed, b"", []
        for index in owed:
            code, text = self._replies(1)[0]
            if index is not None:
                self.results[index] = None if code == 250 else _refusal(code, text)

    def _replies(self, count):
        replies = [self.connection.getreply() for _ in range(count)]
        if any(code == 421 for code, _ in replies):  # the server is closing: the rest waits
            self.connection.close()
            raise smtplib.SMTPServerDisconnected("SMTP 421: the server is closing the connection")
        return replies


def _breaks_line(address):
    return "\r" in address or "\n" in address


#: a line of the message that starts with a dot gets a second one (RFC 5321, 4.5.2)
_DOTS = re.compile(rb"(?m)^\.")


@functools.lru_cache(maxsize=256)
def _encoded(subject):
    """An RFC 2047 subject, folded as SMTP lines are (the same few subjects, over and over)."""
    return Header(subject, "utf-8", header_name="Subject").encode().replace("\n", "\r\n")


@functools.lru_cache(maxsize=16)
def _from_header(mail_from):
    """``MAIL_FROM`` as a From header (RFC 2047 for its name): the same for every message."""
    return formataddr(parseaddr(mail_from), charset="utf-8")


def _part(subtype, content):
    """One UTF-8 text part in base64, its headers first, ending with a line break; its
    text ends with one too, as the email package's ``set_content`` makes it."""
    content = content if content.endswith("\n") else content + "\n"
    body = base64.encodebytes(content.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{body}")


def _addr_spec(header_value):
    """``Name <a@b>`` or ``a@b`` → ``a@b``."""
    value = header_value.strip()
    return value[value.rfind("<") + 1:value.rfind(">")] if value.endswith(">") else value


def _header_address(address):
    local, _, domain = address.rpartition("@")
    return Address(username=local, domain=domain)


def _refusal(code, text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # 4xx: try again later; 5xx: the server will not take it
    return DeliveryError(f"SMTP {code}: {text}", temporary=code < 500)


@hookimpl
def regapp_email_senders():
    return [SmtpEmailSender]


@hookimpl
def regapp_contract_environment(kind, name, behaviour, workdir):
    if kind == "email" and name == SmtpEmailSender.name:
        return _environment(behaviour)
    return None


@contextlib.contextmanager
def _environment(behaviour):
    # aiosmtpd is a test dependency: imported only when the kit asks
    from regapp.testing.smtp import RecordingSmtpServer

    with RecordingSmtpServer(refuse=behaviour == "fail") as server:
        def received():
            return [Received(to=m["to"][0], text=m["text"], subject=m["subject"])
                    for m in server.messages]

        settings = {"SMTP_HOST": server.host, "SMTP_PORT": server.port, "SMTP_TLS": "none",
                    "MAIL_FROM": "Регапп <noreply@example.com>", "SMTP_TIMEOUT": 5}
        yield ContractEnvironment(settings=settings, received=received, extra={"server": server})
