"""QA mode (R27), only when ``QA_MODE`` is on: the outbox, the fake ESIA, the banner.

Nothing here runs in production: :func:`init_app` mounts it all in QA mode only.
"""

import os

from regapp.adapters import FAKE_ESIA_MOUNT


def init_app(app):
    """Mount the QA pages, and the fake ESIA when it is the provider, in QA mode only."""
    if not app.config.get("QA_MODE"):
        return
    from regapp.qa import views

    app.register_blueprint(views.bp)
    provider = app.extensions["regapp.adapters"].esia
    if provider is not None and provider.name == "fake":
        _mount_fake_esia(app, provider)


def _mount_fake_esia(app, provider):
    from regapp.qa import fake_esia

    materials = fake_esia.ensure_materials(os.path.join(app.instance_path, "fake-esia"))
    public = app.config["PUBLIC_URL"]
    fake = fake_esia.FakeEsia.from_materials(
        materials, provider.settings["ESIA_CLIENT_ID"], provider.settings["ESIA_ISSUER"],
        redirect_prefixes=(public + "/esia/",))
    blueprint = fake_esia.blueprint(fake, url_prefix=FAKE_ESIA_MOUNT)
    app.extensions["csrf"].exempt(blueprint)  # ESIA's own forms, not the portal's
    app.register_blueprint(blueprint)
    app.extensions["regapp.fake_esia"] = fake
