"""The plugin surface is an API: every hook documented and exercised (R25)."""

import inspect

import pytest

from regapp import hookspecs
from regapp.pluginmanager import available, build_plugin_manager

HOOKS = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
         if name.startswith("regapp_")]


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_says_its_arguments_and_what_it_returns(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert ":return:" in doc
    for argument in inspect.signature(getattr(hookspecs, name)).parameters:
        assert f":param {argument}:" in doc


def test_built_in_adapters_are_ordinary_plugins():
    pm = build_plugin_manager()
    assert sorted(available(pm, "sms")) == ["fake", "http"]
    assert sorted(available(pm, "email")) == ["fake", "smtp"]
    assert sorted(available(pm, "roster")) == ["csv", "xlsx"]


def test_esia_signers_and_client_are_built_in():
    pm = build_plugin_manager()
    assert sorted(available(pm, "signer")) == ["command", "gost"]
    assert "esia" in available(pm, "esia")


def test_contract_environment_is_first_result_and_none_for_unknown_names(tmp_path):
    pm = build_plugin_manager()
    assert pm.hook.regapp_contract_environment(kind="sms", name="nope", behaviour="accept",
                                               workdir=tmp_path) is None
    assert pm.hook.regapp_contract_environment(kind="sms", name="fake", behaviour="accept",
                                               workdir=tmp_path) is not None


def test_each_manager_is_its_own():
    """No process-wide plugin state: two apps never share registrations."""
    assert build_plugin_manager() is not build_plugin_manager()
