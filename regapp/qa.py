"""QA mode (R27): the outbox page and its JSON lines, only when ``QA_MODE`` is on."""

import json
import os

from flask import Blueprint, Response, current_app, render_template

from regapp import outbox as outbox_file
from regapp.models import Message

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


def init_app(app):
    """Mount the QA pages, and the fake ESIA when it is the provider, in QA mode only."""
    if not app.config.get("QA_MODE"):
        return
    app.register_blueprint(bp)
    provider = app.extensions["regapp.adapters"].esia
    if provider is not None and provider.name == "fake":
        _mount_fake_esia(app, provider)


def _mount_fake_esia(app, provider):
    from plugins.esia_fake import MOUNT
    from regapp import fake_esia

    materials = fake_esia.ensure_materials(os.path.join(app.instance_path, "fake-esia"))
    public = app.config["PUBLIC_URL"]
    fake = fake_esia.FakeEsia.from_materials(
        materials, provider.settings["ESIA_CLIENT_ID"], provider.settings["ESIA_ISSUER"],
        redirect_prefixes=(public + "/esia/",))
    blueprint = fake_esia.blueprint(fake, url_prefix=MOUNT)
    app.extensions["csrf"].exempt(blueprint)  # ESIA's own forms, not the portal's
    app.register_blueprint(blueprint)
    app.extensions["regapp.fake_esia"] = fake
