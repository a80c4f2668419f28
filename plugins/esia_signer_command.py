"""ESIA signer ``command``: an external program signs (openssl with the GOST engine,
CryptoPro's csptest, a certified signing service's client).

``ESIA_SIGN_COMMAND`` is the command line (a list, or a string split like a
shell would); the bytes to sign go to its standard input and the raw
signature is read from its standard output. ``ESIA_SIGN_BYTE_ORDER`` is
``openssl`` (``s || r``, as ESIA wants it) or ``cryptopro`` (``r || s``
little-endian: the bytes are reversed). The certificate hash is computed
here from ``ESIA_CERT_PATH``.
"""

from __future__ import annotations

import shlex
import subprocess

from regapp.adapters import EsiaSigner
from regapp.esia.gost import certificate_hash
from regapp.hookspecs import hookimpl


class SigningFailed(RuntimeError):
    """The signing program failed or gave something that is not a signature."""


class CommandSigner(EsiaSigner):
    """Runs ESIA_SIGN_COMMAND with the data on standard input."""

    name = "command"

    def _argv(self):
        command = self.settings.get("ESIA_SIGN_COMMAND")
        if not command:
            raise SigningFailed("ESIA_SIGN_COMMAND is not set")
        return shlex.split(command) if isinstance(command, str) else list(command)

    def sign(self, data: bytes) -> bytes:
        try:
            done = subprocess.run(self._argv(), input=data, capture_output=True, timeout=30,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SigningFailed(f"signing program did not run: {exc}") from None
        if done.returncode != 0:
            raise SigningFailed(f"signing program failed ({done.returncode}): "
                                f"{done.stderr.decode(errors='replace')[:500]}")
        signature = done.stdout
        if len(signature) != 64:
            raise SigningFailed(f"expected a 64-byte raw signature, got {len(signature)} bytes")
        order = (self.settings.get("ESIA_SIGN_BYTE_ORDER") or "openssl").lower()
        return bytes(reversed(signature)) if order == "cryptopro" else signature

    def certificate_hash(self) -> str:
        with open(self.settings["ESIA_CERT_PATH"], "rb") as f:
            return certificate_hash(f.read())


@hookimpl
def regapp_esia_signers():
    return [CommandSigner]
