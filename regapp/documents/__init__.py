"""The versioned texts a person agrees to (R11); a consent records the exact text's hash.

A new edition is a new file (``terms-2.txt``) and a new entry in
:data:`CURRENT`; old files stay, so an old consent can always be shown.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib.resources import files

from regapp.texts import app_setting

LABELS = {
    "terms": "Я принимаю правила пользования личным кабинетом",
    "pd": "Я согласен с обработкой персональных данных и с условиями работы с персональными данными",
    "marketing": ("Я согласен получать маркетинговую коммуникацию{from_insurer}, "
                  "по каналам, указанным в моем профиле"),
}
#: consent kind → (document name, current version); marketing's text is its label
CURRENT = {"terms": ("terms", "1"), "pd": ("pd", "1"), "marketing": ("marketing", "1")}
REQUIRED = ("terms", "pd")


@dataclass(frozen=True)
class Shown:
    """What a form showed for one consent: enough to prove it later."""

    kind: str
    document: str
    version: str
    label: str
    sha256: str


def _editions():
    """document → the versions that exist, read once from the package's files."""
    found = {}
    for entry in files("regapp.documents").iterdir():
        name, dash, version = entry.name.removesuffix(".txt").rpartition("-")
        if dash and entry.name.endswith(".txt"):
            found.setdefault(name, set()).add(version)
    return found


#: the editions there are; a version asked for is looked up here before any file is touched
EDITIONS = _editions()


def text(document, version) -> str:
    """The document's text of that edition ("" for label-only consents and unknown ones)."""
    if str(version) not in EDITIONS.get(document, ()):
        return ""
    return _read(document, str(version))


@functools.cache  # the editions ship in the package: each read once a process (and finite)
def _read(document, version):
    return (files("regapp.documents") / f"{document}-{version}.txt").read_text(encoding="utf-8")


def insurer_words(name):
    """How a sentence names the insurer (``INSURER_NAME``), or nothing when it is unset."""
    return {"from_insurer": f" от {name}" if name else "",
            "to_insurer": f" в {name}" if name else "",
            "of_insurer": f" {name}" if name else ""}


def label(kind):
    """A consent's label as this deployment shows it: with the insurer's name if set."""
    return LABELS[kind].format(**insurer_words(app_setting("INSURER_NAME")))


def shown(kind, version=None) -> Shown:
    """The consent of ``kind`` as shown in ``version`` (the current one by default).

    A version the form says it showed counts only if that edition exists (an old one, for
    a page opened before a new edition); anything else is recorded as the current one.
    """
    document, current = CURRENT[kind]
    editions = EDITIONS.get(document, {current})
    version = version if version in editions else current
    words = label(kind)
    digest = hashlib.sha256((words + "\n\n" + text(document, version)).encode()).hexdigest()
    return Shown(kind=kind, document=document, version=version, label=words, sha256=digest)
