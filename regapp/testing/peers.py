"""Peers and helpers for contract environments: the built-in plugins use them, and so may yours."""

import contextlib
import socket

from regapp.adapters import ContractEnvironment, Received
from regapp.qa import outbox


@contextlib.contextmanager
def outbox_environment(workdir, channel, fail_setting, behaviour):
    """A contract environment for a fake provider: its outbox file in ``workdir``."""
    path = workdir / f"outbox-{channel}.jsonl"
    settings = {"OUTBOX_PATH": str(path), fail_setting: behaviour == "fail"}

    def received():
        return [
            Received(to=e["to"], text=e["text"], subject=e.get("subject"))
            for e in outbox.read(path, newest_first=False)
            if e["channel"] == channel
        ]

    yield ContractEnvironment(settings=settings, received=received)


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
