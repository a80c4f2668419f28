"""The pages a person walks through, one blueprint per thing they do; views stay thin.

``invite`` (the link's form), ``signup`` (the form without a link, the code steps, e-mail
confirmation), ``signin``, ``recovery``, ``account`` and ``documents``; Gosuslugi's pages
are in :mod:`regapp.esia.views`, QA's in :mod:`regapp.qa.views`.
"""

from regapp.auth import current_account, signed_in_here
from regapp.esia import views as esia
from regapp.views import account, documents, invite, recovery, signin, signup
from regapp.views.common import answer_limit_in_form


def init_app(app):
    """Register the flows' blueprints with their rate limits."""
    for module in (invite, signup, signin, recovery, account, documents, esia):
        module.init_app(app)
    app.jinja_env.globals["current_account"] = current_account
    app.jinja_env.globals["signed_in_here"] = signed_in_here
    app.register_error_handler(429, answer_limit_in_form)
