"""Build the plugin manager and choose the deployment's adapters by name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import pluggy

from regapp import hookspecs

#: the built-in adapters, registered before any entry point
BUILTIN_PLUGINS = (
    "regapp_plugins.sms_fake",
    "regapp_plugins.sms_http",
    "regapp_plugins.email_fake",
    "regapp_plugins.email_smtp",
    "regapp_plugins.roster_csv",
    "regapp_plugins.roster_xlsx",
    "regapp_plugins.esia_signer_gost",
    "regapp_plugins.esia_signer_command",
    "regapp_plugins.esia_client",
    "regapp_plugins.esia_fake",
)

#: adapter kind → (hook that declares it, setting that chooses it, words for messages)
KINDS = {
    "sms": ("regapp_sms_gateways", "SMS_GATEWAY", "SMS gateway"),
    "email": ("regapp_email_senders", "EMAIL_SENDER", "e-mail sender"),
    "roster": ("regapp_roster_sources", None, "roster source"),
    "esia": ("regapp_esia_providers", "ESIA_PROVIDER", "ESIA provider"),
    "signer": ("regapp_esia_signers", "ESIA_SIGNER", "ESIA signer"),
}


class UnknownAdapter(LookupError):
    """A setting names an adapter that no plugin provides."""

    def __init__(self, kind, name, available, setting=None):
        words = KINDS[kind][2]
        where = f"{setting} = {name!r}: " if setting else ""
        names = ", ".join(sorted(available)) or "none"
        super().__init__(f"{where}no {words} is called {name!r}; available: {names}")
        self.kind, self.name, self.available = kind, name, sorted(available)


class MissingSettings(ValueError):
    """The adapter a setting names lacks settings it cannot work without."""

    def __init__(self, setting, name, missing):
        super().__init__(f"{setting} = {name!r} needs {', '.join(missing)}: not set")
        self.missing = missing


def build_plugin_manager(extra_plugins=(), setting_plugins=()):
    """Register built-ins, then entry points, then what settings and callers add."""
    pm = pluggy.PluginManager("regapp")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.load_setuptools_entrypoints("regapp")
    for module_name in setting_plugins:
        if not pm.has_plugin(module_name):
            pm.register(importlib.import_module(module_name), name=module_name)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def available(pm, kind):
    """Map each adapter name of ``kind`` to its class."""
    hook = getattr(pm.hook, KINDS[kind][0])
    found = {}
    for classes in hook():
        for cls in classes or ():
            found.setdefault(cls.name, cls)
    return found


@dataclass
class Adapters:
    """The adapters a deployment chose, built once per app."""

    pm: pluggy.PluginManager
    settings: dict
    sms: object = None
    email: object = None
    esia: object = None
    roster_sources: dict = field(default_factory=dict)

    def roster_source(self, name=None, location=None):
        """Return the roster source called ``name``, or the one for ``location``'s ending."""
        if name:
            if name not in self.roster_sources:
                raise UnknownAdapter("roster", name, self.roster_sources)
            return self.roster_sources[name](self.settings)
        lowered = str(location).lower()
        for cls in self.roster_sources.values():
            if any(lowered.endswith(suffix) for suffix in cls.suffixes):
                return cls(self.settings)
        raise UnknownAdapter("roster", lowered.rsplit(".", 1)[-1], self.roster_sources)


def choose(pm, kind, settings, required=True):
    """Build the adapter of ``kind`` that the settings name, or fail listing the names."""
    setting = KINDS[kind][1]
    name = settings.get(setting)
    if not name and not required:
        return None
    classes = available(pm, kind)
    if name not in classes:
        raise UnknownAdapter(kind, name, classes, setting)
    if missing := [wanted for wanted in classes[name].required if not settings.get(wanted)]:
        raise MissingSettings(setting, name, missing)
    return classes[name](settings)


def choose_adapters(pm, settings):
    """Pick every adapter the settings name; an unknown name stops start-up."""
    adapters = Adapters(pm=pm, settings=settings)
    adapters.sms = choose(pm, "sms", settings)
    adapters.email = choose(pm, "email", settings)
    adapters.roster_sources = available(pm, "roster")
    if settings.get("ESIA_PROVIDER"):
        adapters.esia = choose(pm, "esia", settings)
        # the signer reads the provider's settings: the fake fills in its test keys
        adapters.esia.signer = choose(pm, "signer", adapters.esia.settings)
    return adapters
