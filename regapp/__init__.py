"""regapp: the self-service registration portal of a health insurer's personal account."""

import os
from pathlib import Path

import pluggy
from flask import Flask

#: marks a plugin's hook implementations: ``@regapp.hookimpl``
hookimpl = pluggy.HookimplMarker("regapp")

#: the top-level ``templates/`` folder, beside this package
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config=None, plugins=()):
    """Build the app: settings, database, plugins, queue, pages.

    :param test_config: settings that replace ``instance/config.py`` and the
        environment (tests).
    :param plugins: extra plugin objects to register after the built-ins and
        entry points (tests, embedding).
    """
    from regapp import db, pages, pluginmanager, qa, queue, security, settings, views

    app = Flask(
        __name__,
        instance_path=os.environ.get("REGAPP_INSTANCE_PATH") or None,
        instance_relative_config=True,
        template_folder=str(TEMPLATES),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    settings.load(app, test_config)

    pm = pluginmanager.build_plugin_manager(plugins, app.config.get("PLUGINS", ()))
    app.extensions["regapp.adapters"] = pluginmanager.choose_adapters(pm, app.config)

    db.init_app(app)
    queue.init_app(app)
    security.init_app(app)
    pages.init_app(app)
    qa.init_app(app)
    views.init_app(app)
    return app
