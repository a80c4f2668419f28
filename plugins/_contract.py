"""Small helpers the built-in plugins share for the contract test kit."""

import contextlib

from regapp import outbox
from regapp.adapters import ContractEnvironment, Received


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
