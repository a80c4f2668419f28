"""The documents a person agrees to, as versioned pages (R11)."""

from flask import Blueprint, abort, render_template

from regapp import documents

bp = Blueprint("documents", __name__)


@bp.get("/documents/<name>/<version>")
def show(name, version):
    """One edition of a document, exactly as it was agreed to."""
    body = documents.text(name, version) if name in ("terms", "pd") else ""
    if not body or not version.isdigit():
        abort(404)
    title, _, rest = body.partition("\n")
    return render_template("documents/show.html", title=title, body=rest.strip())


def init_app(app):
    app.register_blueprint(bp)
