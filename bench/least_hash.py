"""regapp for gunicorn with argon2id at its least cost: ``bench.least_hash:create_app()``,
for :mod:`bench.beside` only (the app has no setting that weakens its hash)."""

from regapp import create_app as _create_app
from regapp import passwords


def create_app():
    from bench.beside import least_cost_hasher

    passwords._hasher = least_cost_hasher()
    return _create_app()
