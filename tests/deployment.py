"""The portal as production runs it: gunicorn (TLS or behind nginx), `regapp worker`.

Everything is started from this checkout's own files: `instance/gunicorn.conf.py` and
`instance/nginx.conf.example` are the examples the README gives operators.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from ipaddress import IPv4Address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "instance" / "gunicorn.conf.py"
NGINX_EXAMPLE = ROOT / "instance" / "nginx.conf.example"
DEMO_ROSTER = ROOT / "regapp" / "demo_roster.csv"
UNVERIFIED = ssl._create_unverified_context()  # the tests' own self-signed certificate


def make_certificate(folder):
    """A self-signed certificate for 127.0.0.1 and localhost, fit to be its own CA file;
    return (cert, key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _bin(name):
    found = Path(sys.executable).with_name(name)
    if not found.exists():
        raise RuntimeError(f"{name} is not installed beside {sys.executable} (pip install -e '.[test]')")
    return str(found)


class Process:
    """A server process with its own log; ``wait_for(url)`` until it answers."""

    def __init__(self, name, command, env, folder):
        self.name = name
        self.log_path = folder / f"{name}.log"
        self.log = open(self.log_path, "w+")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, env=env, cwd=folder, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_for(self, url, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=2, context=UNVERIFIED):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {url}:\n{self.output()}")

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self):
        """SIGKILL: no cleanup, no goodbye, as a crash or an OOM killer does it."""
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()


class Deployment:
    """An instance folder, its settings, and the processes serving it."""

    def __init__(self, folder, esia_materials, **settings):
        self.folder = folder
        self.instance = folder / "instance"
        shutil.copytree(esia_materials, self.instance / "fake-esia")
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("REGAPP_")},
                    "REGAPP_INSTANCE_PATH": str(self.instance), "REGAPP_QA_MODE": "true",
                    **{f"REGAPP_{k}": str(v) for k, v in settings.items()}}
        self.processes = []

    def regapp(self, *args):
        """Run a ``regapp`` command with this deployment's settings."""
        result = subprocess.run([_bin("regapp"), *args], env=self.env, cwd=self.folder,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, *args):
        """A ``regapp`` command left running, to be killed or waited for."""
        process = Process(f"regapp-{args[0]}", [_bin("regapp"), *args], self.env, self.folder)
        self.processes.append(process)
        return process

    def load_roster(self, path):
        """A fresh schema and ``path``'s people in it."""
        self.regapp("init-db")
        self.regapp("roster", "import", str(path))

    def load_demo_roster(self):
        self.load_roster(DEMO_ROSTER)
        self.regapp("invitations", "send")

    def gunicorn(self, port, *extra, app_spec="regapp:create_app()", **settings):
        env = {**self.env, **{f"REGAPP_{k}": str(v) for k, v in settings.items()}}
        process = Process(f"gunicorn-{port}", [
            _bin("gunicorn"), "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
            "--workers", "2", *extra, app_spec], env, self.folder)
        self.processes.append(process)
        scheme = "https" if "--certfile" in extra else "http"
        return process.wait_for(f"{scheme}://127.0.0.1:{port}/healthz")

    def run(self, port, **settings):
        """``regapp run``: the embedded way, one process delivering in-process."""
        env = {**self.env, **{f"REGAPP_{k}": str(v) for k, v in settings.items()}}
        name = f"run-{port}-{len(self.processes)}"
        process = Process(name, [_bin("regapp"), "run", "--port", str(port)], env, self.folder)
        self.processes.append(process)
        return process.wait_for(f"http://127.0.0.1:{port}/healthz")

    def worker(self):
        started = sum(p.name.startswith("worker") for p in self.processes)  # a log each
        process = Process(f"worker{started or ''}", [_bin("regapp"), "worker"], self.env,
                          self.folder)
        self.processes.append(process)
        return process

    def nginx(self, port, upstream_port, certificate):
        """nginx with the README's example server block, TLS on ``port``."""
        folder = Path(tempfile.mkdtemp(prefix="regapp-nginx-"))
        block = (NGINX_EXAMPLE.read_text()
                 .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
                 .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
                 .replace("/etc/regapp/tls/fullchain.pem", str(certificate[0]))
                 .replace("/etc/regapp/tls/privkey.pem", str(certificate[1])))
        (folder / "regapp.conf").write_text(block)
        user = "user root;\n" if os.getuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {folder}/body;\n"
            f"  proxy_temp_path {folder}/proxy;\n  include {folder}/regapp.conf;\n}}\n")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        process = Process("nginx", [nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                    "-g", "daemon off;"], self.env, self.folder)
        self.processes.append(process)
        return process.wait_for(f"https://127.0.0.1:{port}/healthz")

    def wait_for_message(self, to, seconds=15):
        """The first message to ``to`` in the QA outbox (delivery is queued)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = [m for m in self.outbox() if m["to"] == to]
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"nothing to {to} in {seconds} s:\n{self.logs()[-3000:]}")

    def outbox(self):
        from regapp.qa import outbox as outbox_file

        return outbox_file.read(self.instance / "outbox.jsonl", newest_first=False)

    def stop(self):
        for process in reversed(self.processes):
            process.stop()

    def logs(self):
        return "\n".join(p.output() for p in self.processes)
