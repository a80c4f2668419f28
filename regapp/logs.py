"""Logs an operator can read at night: one line per request, text or JSON, nothing secret.

Every request gets an id (the proxy's ``X-Request-Id`` when it sends a sane one, else a
new one), echoed in the response, and one line: id, method, the route's template (never
the path itself: invitation and confirmation links carry tokens), status and time.
``LOG_FORMAT = "json"`` writes each record as one JSON object a line. Contacts in log
lines go through :func:`masked`; a filter scrubs phone numbers, codes after «код» and
link tokens from whatever else is logged, as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: what must never reach a log: full phones, link tokens, codes said to be codes
_SECRETS = [
    (re.compile(r"(?<![\w+])(?:\+7|8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\d)"
                r"|\+\d{10,15}(?!\d)"), lambda m: masked(re.sub(r"[^\d+]", "", m.group()))),
    (re.compile(r"(/(?:invite|email/confirm)/)[A-Za-z0-9_-]{16,}"), r"\1…"),
    (re.compile(r"(код\D{0,20}|\bcode[=:]\s*)\d{4,8}", re.IGNORECASE), r"\1******"),
    (re.compile(r"(?<!\d)\d{4,8}(?=\s*—\s*код)"), "******"),
]


def masked(contact):
    """A phone or address as a log may show it: ``+7916***4567``, ``a***@example.com``."""
    text = str(contact or "")
    if "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = text.lstrip("+")
    if len(digits) < 7:
        return "***"
    return f"{'+' if text.startswith('+') else ''}{digits[:4]}***{digits[-4:]}"


def redacted(text):
    """``text`` with phones, link tokens and codes scrubbed."""
    text = str(text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class Scrub(logging.Filter):
    """Scrub every record's final message before any handler writes it."""

    def filter(self, record):
        message = redacted(record.getMessage())
        record.msg, record.args = message, None
        return True


class JsonLines(logging.Formatter):
    def format(self, record):
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage(), **getattr(record, "fields", {})}
        if has_request_context() and "request_id" in g:
            entry.setdefault("request_id", g.request_id)
        if record.exc_info:
            entry["exception"] = redacted(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class Text(logging.Formatter):
    def format(self, record):
        line = super().format(record)
        return redacted(line) if record.exc_info else line


SCRUB = Scrub()


def _handler(log_format):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if log_format == "json" else
                         Text("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SCRUB)
    handler.set_name("regapp")
    return handler


def init_app(app):
    """The app's log handler (text or JSON) and the one line per request."""
    logger = logging.getLogger("regapp")
    logger.removeHandler(default_handler)
    for old in [h for h in logger.handlers if h.get_name() == "regapp"]:
        logger.removeHandler(old)
    logger.addHandler(_handler(app.config.get("LOG_FORMAT", "text")))
    logger.setLevel(logging.INFO)
    for name in ("regapp", "werkzeug"):  # others' records go through the scrub too
        logging.getLogger(name).addFilter(SCRUB)
    requests = logging.getLogger("regapp.request")

    @app.before_request
    def _start():
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if REQUEST_ID.match(sent) else uuid.uuid4().hex
        g.log_started = time.perf_counter()

    @app.after_request
    def _log(response):
        route = request.url_rule.rule if request.url_rule else "<unmatched>"
        took = (time.perf_counter() - g.get("log_started", time.perf_counter())) * 1000
        fields = {"request_id": g.get("request_id"), "method": request.method, "path": route,
                  "status": response.status_code, "ms": round(took, 1)}
        requests.info("%s %s %s %s %.1fms", fields["request_id"], request.method, route,
                      response.status_code, took, extra={"fields": fields})
        if "X-Request-Id" not in response.headers:
            response.headers.add("X-Request-Id", fields["request_id"] or "")
        return response
