"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

Used by the tests and by the contract test kit; needs the ``test`` extra.
"""

import email
import email.policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from regapp.testing.peers import free_port


class _Recorder:
    def __init__(self, server):
        self.server = server

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.server.pipelining:  # as Postfix and Exim offer it (RFC 2920)
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refuse = self.server.refuse  # True: later; the whole reply, "550 5.1.1 …"; or by address
        refuse = refuse.get(address) if isinstance(refuse, dict) else refuse
        if refuse:
            return "451 4.3.0 try again later" if refuse is True else refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        self.server.messages.append({
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(parsed["Subject"]),
            "text": text_part.get_content() if text_part else "",
            "html": html_part.get_content() if html_part else None,
            "raw": envelope.content,
            "message": parsed,
            "session": session.peer,
        })
        return "250 Message accepted"


class RecordingSmtpServer:
    """Context manager: an SMTP server on 127.0.0.1 and a free port."""

    def __init__(self, refuse=False, credentials=None, tls_context=None, require_starttls=False,
                 pipelining=True):
        self.messages, self.refuse, self.pipelining = [], refuse, pipelining
        self.host = "127.0.0.1"
        kwargs = {}
        if credentials:
            kwargs.update(authenticator=_authenticator(credentials), auth_require_tls=False)
        if tls_context:
            kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
        self.port = free_port()
        self.controller = Controller(_Recorder(self), hostname=self.host, port=self.port, **kwargs)

    @property
    def sessions(self):
        return {m["session"] for m in self.messages}

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def _authenticator(credentials):
    user, password = credentials

    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode() == user and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check
