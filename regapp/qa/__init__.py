"""QA mode (R27), only when ``QA_MODE`` is on: the outbox, the fake ESIA, the banner.

Nothing here runs in production: :func:`init_app` mounts it all in QA mode only.
"""

import os

from regapp.adapters import FAKE_ESIA_MOUNT

#: where QA mode mounts the staff console's fake OpenID Connect provider (issue 16)
FAKE_OIDC_MOUNT = "/qa/fake-oidc"


def init_app(app):
    """Mount the QA pages, and the fake ESIA when it is the provider, in QA mode only."""
    if not app.config.get("QA_MODE"):
        return
    from regapp.qa import views

    app.register_blueprint(views.bp)
    provider = app.extensions["regapp.adapters"].esia
    if provider is not None and provider.name == "fake":
        _mount_fake_esia(app, provider)
    if not app.config.get("STAFF_OIDC_METADATA_URL"):
        _mount_fake_oidc(app)


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


def _mount_fake_oidc(app):
    """The staff console's provider in QA mode: the test staff sign in through it."""
    import secrets

    from regapp.qa import fake_oidc

    base = app.config["PUBLIC_URL"] + FAKE_OIDC_MOUNT
    secret = app.config.get("SECRET_KEY") or secrets.token_urlsafe(16)
    client = fake_oidc.Client("regapp-staff-qa", f"qa-{secret[:12]}",
                              app.config["PUBLIC_URL"] + "/staff/callback")
    fake = fake_oidc.FakeOidc(os.path.join(app.instance_path, "fake-oidc", "key.pem"), base,
                              client)
    blueprint = fake_oidc.blueprint(fake, url_prefix=FAKE_OIDC_MOUNT)
    app.extensions["csrf"].exempt(blueprint)  # the provider's own form, not the portal's
    app.register_blueprint(blueprint)
    app.config.update(STAFF_OIDC_METADATA_URL=base + "/.well-known/openid-configuration",
                      STAFF_OIDC_CLIENT_ID=client.client_id,
                      STAFF_OIDC_CLIENT_SECRET=client.client_secret,
                      STAFF_OPERATOR_GROUPS="regapp-operators",
                      STAFF_SUPPORT_GROUPS="regapp-support")
