"""The wapiti scan (issue 13), run by ``tox -e scan``: not part of the test run.

Starts ``regapp run`` in QA mode on a fresh instance with the demo roster, signs a demo
person in, and lets ``wapiti`` crawl and attack it twice: as a stranger and with that
person's session. Every finding is printed; the run fails on any whose category
``SECURITY.md`` does not explain under «Scanner findings». The report is kept in
``test-artifacts/scan/``.

    tox -e scan                       # or: python -m tests.scan [--max-scan-time 600]
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from regapp.testing.peers import free_port
from tests.deployment import Deployment
from tests.helpers import GOOD, code_in, csrf
from tests.test_instances import Browser

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "test-artifacts" / "scan"
#: what the scan may try here: no module that needs the Internet (ssrf) or TLS (ssl), and
#: not timesql (hours of deliberate sleeps; sql covers injection by errors and booleans)
MODULES = ("xss,permanentxss,sql,exec,file,redirect,crlf,csrf,http_headers,"
           "cookieflags,csp,methods,backup,htaccess,xxe,upload")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-scan-time", type=int, default=600)
    parser.add_argument("--max-attack-time", type=int, default=120,
                        help="seconds per attack module (each of the two passes runs 16)")
    args = parser.parse_args()
    wapiti = _wapiti()
    REPORTS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="regapp-scan-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployment = Deployment(folder, _fake_esia(folder), PUBLIC_URL=base,
                            RATELIMIT_ENABLED="false")
    findings = {}
    try:
        deployment.load_demo_roster()
        deployment.run(port)
        session = _signed_in(deployment, base)  # before the scan: it may empty the QA outbox
        for who, cookie in (("signed-in", session), ("stranger", None)):
            report = REPORTS / f"{who}.json"
            command = [wapiti, "-u", base + "/", "--scope", "folder", "-m", MODULES,
                       "-f", "json", "-o", str(report), "--flush-session",
                       "--max-scan-time", str(args.max_scan_time),
                       "--max-attack-time", str(args.max_attack_time), "--tasks", "4",
                       "-x", base + "/logout", "-x", base + "/logout/everywhere"]
            if cookie:
                command += ["-C", cookie]
            subprocess.run(command, check=True, stdout=sys.stderr)
            for category, items in json.loads(report.read_text())["vulnerabilities"].items():
                for item in items:
                    findings.setdefault(category, []).append(f"{who}: {item['info']} "
                                                             f"({item['method']} {item['path']})")
        assert "Traceback" not in deployment.logs(), "the scan caused a server error"
    finally:
        deployment.stop()
        (REPORTS / "portal.log").write_text(deployment.logs())
    return _judge(findings)


def _wapiti():
    """wapiti from PATH, or installed from PyPI into a virtualenv of its own: it pins
    versions of Flask and cryptography that regapp's environment must not take."""
    found = shutil.which("wapiti")
    if found:
        return found
    venv = ROOT / ".tox" / "wapiti"
    if not (venv / "bin" / "wapiti").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "wapiti3"], check=True)
    return str(venv / "bin" / "wapiti")


def _fake_esia(folder):
    """The fake Gosuslugi's keys, made the way the test suite makes them."""
    from regapp.qa.fake_esia import ensure_materials

    return ensure_materials(folder / "fake-esia-materials").folder


def _signed_in(deployment, base):
    """A demo person's registration finished through the pages; their session cookie."""
    browser = Browser()
    invitation = deployment.wait_for_message("a.petrov@example.com")  # delivery is queued
    link = invitation["text"].split(base, 1)[1].split()[0]
    _, _, page = browser.get(base + link)
    browser.post(base + link, {
        "csrf_token": csrf(page), "policy": "ДМС-2025-000101", "phone": "89161234567",
        "password": GOOD, "confirmation": GOOD, "terms": "y", "pd": "y",
        "terms_version": "1", "pd_version": "1", "marketing_version": "1"})
    sms = deployment.wait_for_message("+79161234567")
    _, _, code_page = browser.get(base + "/register/code")
    browser.post(base + "/register/code", {"csrf_token": csrf(code_page),
                                           "code": code_in(sms["text"])})
    return "; ".join(f"{c.name}={c.value}" for c in browser.jar)


def _judge(findings):
    explained = _explained()
    unexplained = 0
    for category, items in sorted(findings.items()):
        verdict = "explained in SECURITY.md" if category in explained else "NOT EXPLAINED"
        unexplained += category not in explained
        print(f"{category}: {len(items)} — {verdict}")
        for item in items[:20]:
            print(f"    {item}")
    print(f"{sum(map(len, findings.values()))} findings, {unexplained} categories unexplained")
    return 1 if unexplained else 0


def _explained():
    """The categories SECURITY.md's «Scanner findings» section names in bold."""
    text = (ROOT / "SECURITY.md").read_text()
    section = text.split("## Scanner findings", 1)[-1].split("\n## ", 1)[0]
    return set(re.findall(r"\*\*(.+?)\*\*", section))


if __name__ == "__main__":
    sys.exit(main())
