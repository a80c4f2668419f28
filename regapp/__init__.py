"""regapp: the self-service registration portal of a health insurer's personal account.

Importing the package costs little: Flask comes in with :func:`create_app`, so a
plugin that imports :mod:`regapp.hookspecs` or :mod:`regapp.adapters` stays light.
"""

import os
from pathlib import Path

from regapp.hookspecs import hookimpl  # noqa: F401  (``@regapp.hookimpl`` keeps working)


def templates_folder():
    """Where the templates are: inside the installed package, else the checkout's ``templates/``.

    A wheel carries the top-level ``templates/`` as ``regapp/templates`` (setup.cfg maps
    it); an editable install reads the checkout's folder in place.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "templates"
    return packaged if packaged.is_dir() else here.parent / "templates"


def create_app(test_config=None, plugins=()):
    """Build the app: settings, database, plugins, queue, pages.

    :param test_config: settings that replace ``instance/config.py`` and the
        environment (tests).
    :param plugins: extra plugin objects to register after the built-ins and
        entry points (tests, embedding).
    """
    from flask import Flask

    from regapp import (
        db,
        logs,
        metrics,
        pages,
        pluginmanager,
        qa,
        queue,
        security,
        sessions,
        settings,
        staff,
        views,
    )

    app = Flask(
        __name__,
        instance_path=os.environ.get("REGAPP_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder=str(templates_folder()),
    )
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)  # keys, data: owner only
    settings.load(app, test_config)

    pm = pluginmanager.build_plugin_manager(plugins, app.config.get("PLUGINS", ()))
    app.extensions["regapp.adapters"] = pluginmanager.choose_adapters(pm, app.config)

    logs.init_app(app)
    metrics.init_app(app)
    db.init_app(app)
    queue.init_app(app)
    sessions.init_app(app)
    security.init_app(app)
    pages.init_app(app)
    qa.init_app(app)
    staff.init_app(app)  # after qa: QA mode's fake provider fills its settings
    views.init_app(app)
    return app
