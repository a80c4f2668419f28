"""The QA outbox file (R27): one JSON object a line, appended by the fake providers."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path


def append(path, channel, to, text, subject=None, sent_at=None):
    """Append one message; safe across threads and processes."""
    entry = {
        "channel": channel,
        "to": to,
        "subject": subject,
        "text": text,
        "sent_at": (sent_at or dt.datetime.now(dt.UTC)).isoformat(),
    }
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # owner-only: it holds codes and links (QA mode only, but still nobody else's)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a",
                   encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.write(line)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    return entry


def read(path, newest_first=True):
    """Every message in the outbox; a torn last line (a writer mid-way) is skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries[::-1] if newest_first else entries
