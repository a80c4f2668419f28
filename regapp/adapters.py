"""The contracts of the adapter kinds that plugins provide (R25).

An adapter class is built with the deployment's settings (a read-only
mapping such as ``app.config``) and reads only its own keys from it. It must
not import Flask: adapters run in the delivery worker and in the contract
test kit as well as in the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regapp.esia.protocol import error_code


class DeliveryError(Exception):
    """A message was not accepted by the gateway or server.

    ``temporary`` says whether trying again later may succeed (a timeout, a
    5xx answer); a permanent error (a refused address) ends the message as
    failed at once.
    """

    def __init__(self, reason: str, temporary: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary


class RosterUnreadable(Exception):
    """A roster cannot be read at all: nothing of it may be loaded."""


@dataclass(frozen=True)
class Sms:
    """One text message: ``to`` in E.164 (``+79161234567``)."""

    message_id: str
    to: str
    text: str


@dataclass(frozen=True)
class Email:
    """One e-mail: a plain-text body and an optional HTML alternative."""

    message_id: str
    to: str
    subject: str
    text: str
    html: str | None = None


@dataclass
class Received:
    """What a contract environment's peer received, for the test kit."""

    to: str
    text: str
    subject: str | None = None


@dataclass
class ContractEnvironment:
    """Settings that point an adapter at a peer, and a way to see the peer's side."""

    settings: dict[str, Any]
    received: Callable[[], list[Received]] | None = None
    write: Callable[[list[dict[str, str]]], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """Common base: a ``name`` and the settings it was built with."""

    #: the name a deployment uses to choose this adapter in its settings
    name: str = ""
    #: the settings it cannot work without: chosen with one of them unset, the start stops
    #: and names it (a delivery would otherwise fail every message with a puzzle, retried)
    required: tuple[str, ...] = ()

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings


class SmsGateway(Adapter):
    """Sends text messages."""

    def send(self, sms: Sms) -> None:
        """Hand ``sms`` to the gateway; return when it has accepted it.

        Raise :class:`DeliveryError` (``temporary=True`` for timeouts and
        server errors) when it has not; never any other exception for a
        gateway's failure.
        """
        raise NotImplementedError


class EmailSender(Adapter):
    """Sends e-mails, a batch at a time."""

    def send_batch(self, emails: Sequence[Email]) -> list[DeliveryError | None]:
        """Deliver ``emails``, over one connection where the transport has them.

        :return: one entry per e-mail in order: None when the server accepted
            it, or the :class:`DeliveryError` that refused it.
        :raises DeliveryError: when the server could not be reached at all
            (then none of the batch counts as sent).
        """
        raise NotImplementedError


class RosterSource(Adapter):
    """Reads an employer's roster (a file, an HR feed)."""

    #: file endings this source reads when no ``--source`` is named
    suffixes: tuple[str, ...] = ()

    def read(self, location: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(line, row)`` for each data row, lazily, in order.

        ``row`` maps the column's header as written (``"Фамилия"`` or
        ``"last_name"``) to the cell: text, a number, a ``date`` or None; a
        header written twice is told apart by :func:`numbered_repeats`.
        ``line`` is the row's line in the source, the header being line 1.

        :raises RosterUnreadable: when the location cannot be read at all,
            before or while rows are yielded.
        """
        raise NotImplementedError


def numbered_repeats(names: Sequence[str]) -> list[str]:
    """A roster header's names, each repeat numbered (``"Телефон"``, ``"Телефон (2)"``): a
    row maps each name to its cell, and a name written twice would keep one column unsaid.
    The import reads the first and says it left the other (:func:`regapp.roster.column_map`).
    Empty names stay as they are: a column without a name is not read."""
    seen: dict[str, int] = {}
    numbered = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        numbered.append(f"{name} ({seen[name]})" if name and seen[name] > 1 else name)
    return numbered


class EsiaSigner(Adapter):
    """Signs ESIA requests with the system's GOST R 34.10-2012 key."""

    def sign(self, data: bytes) -> bytes:
        """Return the raw signature of ``data`` in OpenSSL's byte order."""
        raise NotImplementedError

    def certificate_hash(self) -> str:
        """Return the Streebog-256 hash of the DER certificate, 64 hex digits."""
        raise NotImplementedError


#: where QA mode mounts the built-in fake ESIA inside the app (the ``fake`` provider's base)
FAKE_ESIA_MOUNT = "/fake-esia"


class EsiaError(Exception):
    """ESIA refused, or answered something that cannot be trusted.

    ``code`` is ESIA's own (``"007004"`` for a declined consent), read from an
    ``error_description`` that starts ``ESIA-007004:`` when not given.
    """

    def __init__(self, description: str, code: str | None = None):
        super().__init__(description)
        self.code = code or error_code(description)


@dataclass(frozen=True)
class EsiaPerson:
    """Who ESIA says signed in: ``oid`` is ESIA's person id, ``trusted`` a confirmed account."""

    oid: str
    last_name: str
    first_name: str
    middle_name: str
    birth_date: str | None
    trusted: bool


class EsiaProvider(Adapter):
    """A client of ESIA (Gosuslugi) or of a stand-in for it."""

    def authorization_url(self, state: str, redirect_uri: str) -> str:
        """Return the URL that sends the person to sign in and consent."""
        raise NotImplementedError

    def fetch_person(self, code: str, redirect_uri: str) -> EsiaPerson:
        """Exchange ``code`` for tokens and return who signed in.

        :raises EsiaError: ESIA refused (its code in ``code``) or its answer failed a check.
        """
        raise NotImplementedError
