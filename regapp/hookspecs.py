"""The plugin surface of regapp: every hook a plugin may implement.

A plugin is a module or object with functions marked ``@hookimpl`` (from
this module; importing it pulls in pluggy only, never Flask) whose names are
the hooks below. Built-in adapters (``plugins/``) are plugins
like any other; third-party ones install as packages that declare an entry
point in the ``regapp`` group. Hooks are called with keyword arguments only,
and an implementation may accept fewer arguments than its specification.

Each adapter kind is a class with a ``name``; the deployment picks one class
of each kind by that name in its settings (``SMS_GATEWAY``, ``EMAIL_SENDER``,
``ESIA_PROVIDER``, ``ESIA_SIGNER``; roster sources by ``--source`` or by the
file's ending). The contracts of the classes are in :mod:`regapp.adapters`.
"""

import pluggy

hookspec = pluggy.HookspecMarker("regapp")
#: marks a plugin's hook implementations: ``from regapp.hookspecs import hookimpl``
hookimpl = pluggy.HookimplMarker("regapp")


# -- SMS gateways -----------------------------------------------------------

@hookspec
def regapp_sms_gateways():
    """Declare the SMS gateways this plugin provides.

    :return: a list of :class:`regapp.adapters.SmsGateway` subclasses, each
        with a unique ``name``. Every plugin's lists are joined.
    """


# -- E-mail senders ---------------------------------------------------------

@hookspec
def regapp_email_senders():
    """Declare the e-mail senders this plugin provides.

    :return: a list of :class:`regapp.adapters.EmailSender` subclasses, each
        with a unique ``name``. Every plugin's lists are joined.
    """


# -- Roster sources ---------------------------------------------------------

@hookspec
def regapp_roster_sources():
    """Declare the roster sources (file formats, HR feeds) this plugin provides.

    :return: a list of :class:`regapp.adapters.RosterSource` subclasses, each
        with a unique ``name``. Every plugin's lists are joined.
    """


# -- Gosuslugi (ESIA) and its request signer --------------------------------

@hookspec
def regapp_esia_providers():
    """Declare the ESIA providers (identity provider clients) this plugin provides.

    :return: a list of :class:`regapp.adapters.EsiaProvider` subclasses, each
        with a unique ``name``. Every plugin's lists are joined.
    """


@hookspec
def regapp_esia_signers():
    """Declare the request signers (GOST R 34.10-2012) this plugin provides.

    :return: a list of :class:`regapp.adapters.EsiaSigner` subclasses, each
        with a unique ``name``. Every plugin's lists are joined.
    """


# -- The contract test kit (regapp.testing) ---------------------------------

@hookspec(firstresult=True)
def regapp_contract_environment(kind, name, behaviour, workdir):
    """Give the contract test kit a place where an adapter can be tried for real.

    Implement it for your own adapter so that ``pytest --pyargs
    regapp.testing`` can check it; the kit calls it for each adapter it tests.

    :param kind: ``"sms"``, ``"email"`` or ``"roster"``.
    :param name: the adapter's ``name``; return None for names not yours.
    :param behaviour: ``"accept"`` (a peer that takes every message),
        ``"fail"`` (a peer that is down or refuses every message), or, for
        rosters, ``"write"``.
    :param workdir: a :class:`pathlib.Path` the environment may write in.
    :return: a context manager whose ``__enter__`` gives a
        :class:`regapp.adapters.ContractEnvironment`: the settings that point
        the adapter at the peer, and for ``"accept"`` a callable that lists
        what the peer received (as :class:`regapp.adapters.Received`), or for
        ``"write"`` a callable that writes given roster rows in the source's
        format and returns the location to read. Stops at the first non-None
        result.
    """
