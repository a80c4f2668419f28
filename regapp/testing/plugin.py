"""pytest plugin of the contract kit: options, parametrization and fixtures."""

import contextlib

import pytest

from regapp.pluginmanager import available, build_plugin_manager

KINDS = ("sms", "email", "roster")


def pytest_addoption(parser):
    group = parser.getgroup("regapp", "regapp adapter contract kit")
    for kind in KINDS:
        group.addoption(f"--regapp-{kind}", action="append", default=[], metavar="NAME",
                        help=f"test the {kind} adapter NAME (repeatable); default: all installed")
    group.addoption("--regapp-setting", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting passed to the adapters under test (repeatable)")


def _chosen(config, kind, pm):
    named = {k: config.getoption(f"--regapp-{k}") for k in KINDS}
    if any(named.values()):
        return named[kind]
    return sorted(available(pm, kind))


def pytest_generate_tests(metafunc):
    for kind in KINDS:
        if f"{kind}_adapter" in metafunc.fixturenames:
            names = _chosen(metafunc.config, kind, build_plugin_manager())
            metafunc.parametrize(f"{kind}_adapter", names, indirect=True)


class Contract:
    """One adapter under test: its class, and how to build it inside a peer environment."""

    def __init__(self, kind, name, pm, workdir, extra_settings):
        self.kind, self.name, self.pm = kind, name, pm
        self.workdir, self.extra_settings = workdir, extra_settings
        classes = available(pm, kind)
        if name not in classes:
            pytest.fail(f"no {kind} adapter named {name!r}; installed: {sorted(classes)}")
        self.cls = classes[name]

    def assert_declared(self, base):
        """The class is the kind it claims, under its own name, with its contract said."""
        assert issubclass(self.cls, base)
        assert self.cls.name == self.name
        assert (self.cls.__doc__ or "").strip(), f"say in a docstring what {self.name} does"

    @contextlib.contextmanager
    def environment(self, behaviour):
        """Yield ``(adapter, environment)`` with the adapter pointed at a peer."""
        manager = self.pm.hook.regapp_contract_environment(
            kind=self.kind, name=self.name, behaviour=behaviour, workdir=self.workdir)
        if manager is None:
            pytest.fail(f"{self.kind} adapter {self.name!r} has no contract environment: "
                        "implement the regapp_contract_environment hook so the kit can try it")
        with manager as environment:
            settings = {**environment.settings, **self.extra_settings}
            yield self.cls(settings), environment


def _settings(config):
    pairs = (item.split("=", 1) for item in config.getoption("--regapp-setting"))
    return {key: value for key, value in pairs}


def _contract(request, tmp_path, kind):
    return Contract(kind, request.param, build_plugin_manager(), tmp_path,
                    _settings(request.config))


@pytest.fixture
def sms_adapter(request, tmp_path):
    return _contract(request, tmp_path, "sms")


@pytest.fixture
def email_adapter(request, tmp_path):
    return _contract(request, tmp_path, "email")


@pytest.fixture
def roster_adapter(request, tmp_path):
    return _contract(request, tmp_path, "roster")


def pytest_collection_modifyitems(config, items):
    """Leave out, rather than skip, the kinds a partner did not ask to test."""
    kept, left_out = [], []
    for item in items:
        wanted = [f"{kind}_adapter" for kind in KINDS if f"{kind}_adapter" in item.fixturenames]
        params = getattr(getattr(item, "callspec", None), "params", {})
        named = all(isinstance(params.get(w), str) for w in wanted)  # empty sets hold NOTSET
        (kept if named else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
