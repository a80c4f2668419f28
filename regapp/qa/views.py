"""The QA pages (R27): the outbox and its JSON lines."""

import json

from flask import Blueprint, Response, current_app, render_template

from regapp.models import Message
from regapp.qa import outbox as outbox_file

bp = Blueprint("qa", __name__, url_prefix="/qa")


@bp.get("/outbox")
def outbox():
    """Every message the fake providers kept, newest first, and what is still queued."""
    entries = outbox_file.read(current_app.config["OUTBOX_PATH"])
    pending = (Message.select().where(Message.status != "sent")
               .order_by(Message.created_at.desc()).limit(100))
    return render_template("qa/outbox.html", entries=entries, pending=list(pending))


@bp.get("/outbox.jsonl")
def outbox_jsonl():
    """The outbox file as it is, one JSON object a line, oldest first."""
    entries = outbox_file.read(current_app.config["OUTBOX_PATH"], newest_first=False)
    body = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    return Response(body, mimetype="application/jsonl; charset=utf-8")
