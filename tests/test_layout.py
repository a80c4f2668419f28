"""The shape of the code (issue 10, ARCHITECTURE.md): what may import what.

Read with the standard library's ``ast``: every import statement counts, at the top of a
module or inside a function, so a cycle cannot hide behind a late import.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "regapp"


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name, path):
    """The modules ``name`` imports, as dotted names (``from a import b`` gives a.b if a
    module of that name exists, else a)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


GRAPH = {name: {m for m in imported(name, path) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def test_the_core_never_imports_a_builtin_plugin():
    offenders = {name: sorted(m for m in imported(name, path) if m.split(".")[0] in
                              ("plugins", "regapp_plugins"))
                 for name, path in MODULES.items()}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    assert cycles == [], "\n".join(" → ".join(c) for c in cycles)


@pytest.mark.parametrize("contract", ["regapp.hookspecs", "regapp.adapters"])
def test_the_plugin_contract_does_not_depend_on_the_app(contract):
    reachable, todo = set(), [contract]
    while todo:
        for target in GRAPH[todo.pop()] - reachable:
            reachable.add(target)
            todo.append(target)
    assert all(m.startswith(("regapp.esia.protocol", "regapp.hookspecs", "regapp.adapters",
                             "regapp.esia")) or m == "regapp" for m in reachable), reachable


def test_a_plugin_imports_without_flask():
    plugins = ["sms_http", "sms_fake", "email_smtp", "email_fake", "roster_csv", "roster_xlsx",
               "esia_client", "esia_signer_gost", "esia_signer_command"]
    code = ("import sys\n" + "".join(f"import regapp_plugins.{p}\n" for p in plugins)
            + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_the_architecture_map_names_every_module():
    """ARCHITECTURE.md matches the tree: each module of regapp/ and plugins/ is on the map."""
    import re

    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [str(path.relative_to(ROOT)) for path in
               [*PACKAGE.rglob("*.py"), *(ROOT / "plugins").glob("*.py")]
               if path.name != "__init__.py" and not path.name.startswith("test_")
               and path.name not in text and path.stem not in text]
    assert missing == []
    named = set(re.findall(r"`((?:regapp|plugins|templates|tests)/[\w/.]+)`", text))
    assert [p for p in named if not (ROOT / p.rstrip("/")).exists()] == []


def test_the_security_model_names_tests_that_exist():  # issue 12: SECURITY.md maps ASVS
    import re

    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| V\d+\.\d+\.\d+", line)]
    assert len(rows) >= 40
    for row in rows:
        tests = row.rsplit("|", 2)[1]
        assert "—" in tests or "`tests/" in tests, row
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert named and [p for p in named if not (ROOT / p).exists()] == []
