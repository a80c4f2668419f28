"""The pages of the registration flows and the personal account; views stay thin."""

from regapp.esia import views as esia
from regapp.views import account, contact, documents, recovery, register, selfreg


def init_app(app):
    """Register the flows' blueprints and their rate limits."""
    for module in (register, selfreg, account, documents):
        app.register_blueprint(module.bp)
    register.init_limits(app)
    selfreg.init_limits(app)
    account.init_limits(app)
    esia.init_app(app)
    recovery.init_app(app)
    contact.init_app(app)
    app.jinja_env.globals["current_account"] = account.current_account
