"""The package as a stranger installs it: sdist, then wheel, into a fresh virtualenv (issue 10).

Builds both from this checkout, installs the wheel without ``-e`` into a new virtualenv,
starts ``regapp demo`` from an empty folder and opens what a person and QA open first.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from regapp.testing.peers import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # the package, not the database


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist, and the wheel built from it, of a copy of the checkout (a build leaves
    build/ behind, and a stale build/ must not leak into the wheel)."""
    source = tmp_path_factory.mktemp("source") / "regapp"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    for name in tracked + _untracked():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out),
                    str(source)], check=True, capture_output=True)
    return out


def _untracked():
    """Files git would add (new, not ignored): the change under work counts too."""
    return subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.splitlines()


def test_the_sdist_carries_the_layout(dist):
    with tarfile.open(next(dist.glob("regapp-*.tar.gz"))) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for path in ("templates/base.html", "templates/sms/code.txt", "plugins/sms_http.py",
                 "instance/config.py.example",
                 "regapp/static/app.css", "regapp/demo_roster.csv", "setup.cfg"):
        assert path in names


def test_the_wheel_owns_every_name_it_installs(dist):
    with zipfile.ZipFile(next(dist.glob("regapp-*.whl"))) as wheel:
        names = set(wheel.namelist())
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("regapp-")}
    assert tops == {"regapp", "regapp_plugins"}  # never a bare "plugins"
    for path in ("regapp/templates/base.html", "regapp/templates/email/invitation.txt",
                 "regapp/static/app.css", "regapp/static/favicon.svg",
                 "regapp/documents/terms-1.txt", "regapp_plugins/esia_client.py"):
        assert path in names


def test_an_installed_wheel_runs_the_demo_from_an_empty_folder(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheel = next(dist.glob("regapp-*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True,
                   capture_output=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGAPP_")}
    log = open(tmp_path / "demo.log", "w+")  # noqa: SIM115
    demo = subprocess.Popen([str(venv / "bin" / "regapp"), "demo", "--port", str(port)],
                            cwd=empty, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert "Зарегистрироваться" in _get(base + "/", demo, log)
        assert "Приглашение в личный кабинет" in _get(base + "/qa/outbox", demo, log)
        assert _get(base + "/static/vendor/htmx.min.js", demo, log)
        invitation = next(line for line in _get(base + "/qa/outbox.jsonl", demo, log).splitlines()
                          if "/invite/" in line)
        link = invitation.split(base, 1)[1].split("\\n", 1)[0]
        form = _get(base + link, demo, log)
        assert "Номер полиса" in form and "Подтверждение пароля" in form
        assert (empty / "instance" / "regapp.db").exists()  # «creates instance/» where it starts
    finally:
        demo.terminate()
        demo.wait(10)
        log.close()


def _get(url, process, log, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise AssertionError(f"{url} did not answer; the demo said:\n{log.read()}") from None
            time.sleep(0.2)
