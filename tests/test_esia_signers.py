"""ESIA signers (R22, R25): the in-process GOST signer cross-checked against OpenSSL's GOST engine.

The engine is Debian's libengine-gost-openssl. Where it is missing and the
tests run as root with apt-get, they install it; otherwise they fail and say
so: the cross-check is the point.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest
from regapp_plugins.esia_signer_command import CommandSigner, SigningFailed
from regapp_plugins.esia_signer_gost import GostSigner

from regapp.esia import gost
from regapp.esia.gost import UnusableKey, load_private_key

PACKAGE = "libengine-gost-openssl"


def gost_engine():
    """The engine's path, installing Debian's package first where this machine allows."""
    found = glob.glob("/usr/lib/*/engines-3/gost.so")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", PACKAGE]
        if subprocess.run(install, capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
            subprocess.run(install, capture_output=True, env=env)
        found = glob.glob("/usr/lib/*/engines-3/gost.so")
    return found[0] if found else None
ESIA_STRING = (b"REGAPPopenid fullname2026.11.25 12:00:00 +0300"
               b"6f1c3a52-9b1e-4c1e-9a8e-3f6f8d2a1b7chttps://lk.example.ru/esia/back")


@pytest.fixture(scope="module")
def openssl(tmp_path_factory):
    """OpenSSL with the GOST engine: an environment and a runner."""
    engine = gost_engine()
    if engine is None:
        pytest.fail(f"OpenSSL's GOST engine is missing and could not be installed: apt-get "
                    f"install {PACKAGE}. The GOST signer cannot be cross-checked without it.")
    folder = tmp_path_factory.mktemp("gost")
    conf = folder / "openssl.cnf"
    conf.write_text("openssl_conf = openssl_def\n[openssl_def]\nengines = engines\n"
                    "[engines]\ngost = gost\n[gost]\nengine_id = gost\n"
                    f"dynamic_path = {engine}\ndefault_algorithms = ALL\n")
    env = {**os.environ, "OPENSSL_CONF": str(conf)}

    def run(*args, data=None):
        done = subprocess.run(["openssl", *args], input=data, capture_output=True, env=env)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout

    run.folder, run.env = folder, env
    return run


def keypair(openssl, paramset):
    key, cert = openssl.folder / f"key-{paramset}.pem", openssl.folder / f"cert-{paramset}.pem"
    if not key.exists():
        openssl("genpkey", "-algorithm", "gost2012_256", "-pkeyopt", f"paramset:{paramset}",
                "-out", str(key))
        openssl("req", "-x509", "-new", "-key", str(key), "-subj", "/CN=regapp test",
                "-days", "30", "-md_gost12_256", "-out", str(cert))
    return str(key), str(cert)


def verified(openssl, cert, data, signature):
    pub = openssl.folder / "pub.pem"
    pub.write_bytes(openssl("x509", "-in", cert, "-pubkey", "-noout"))
    sig = openssl.folder / "sig.bin"
    sig.write_bytes(signature)
    done = subprocess.run(["openssl", "dgst", "-md_gost12_256", "-verify", str(pub),
                           "-signature", str(sig)], input=data, capture_output=True,
                          env=openssl.env)
    return done.returncode == 0 and b"Verified OK" in done.stdout


@pytest.mark.parametrize("paramset", ["A", "B", "TCA", "XA"])
def test_gost_signature_verifies_with_openssl(openssl, paramset):
    key, cert = keypair(openssl, paramset)
    signer = GostSigner({"ESIA_KEY_PATH": key, "ESIA_CERT_PATH": cert})
    for data in (ESIA_STRING, "Госуслуги".encode(), b""):
        signature = signer.sign(data)
        assert len(signature) == 64
        assert verified(openssl, cert, data, signature)
    assert not verified(openssl, cert, ESIA_STRING + b"x", signer.sign(ESIA_STRING))


def test_certificate_hash_is_streebog_of_the_der_certificate(openssl):
    key, cert = keypair(openssl, "A")
    der = openssl("x509", "-in", cert, "-outform", "DER")
    expected = openssl("dgst", "-md_gost12_256", "-r", data=der).split()[0].decode()
    assert GostSigner({"ESIA_CERT_PATH": cert}).certificate_hash() == expected
    assert len(expected) == 64


def test_command_signer_with_openssl(openssl, monkeypatch):
    key, cert = keypair(openssl, "A")
    monkeypatch.setenv("OPENSSL_CONF", openssl.env["OPENSSL_CONF"])
    signer = CommandSigner({"ESIA_SIGN_COMMAND": f"openssl dgst -md_gost12_256 -sign {key}",
                            "ESIA_CERT_PATH": cert})
    assert verified(openssl, cert, ESIA_STRING, signer.sign(ESIA_STRING))
    assert signer.certificate_hash() == GostSigner({"ESIA_CERT_PATH": cert}).certificate_hash()


def test_command_signer_reverses_cryptopro_byte_order(openssl, monkeypatch):
    key, cert = keypair(openssl, "A")
    monkeypatch.setenv("OPENSSL_CONF", openssl.env["OPENSSL_CONF"])
    reverse = f"{sys.executable} -c \"import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])\""
    signer = CommandSigner({
        "ESIA_SIGN_COMMAND": ["sh", "-c", f"openssl dgst -md_gost12_256 -sign {key} | {reverse}"],
        "ESIA_SIGN_BYTE_ORDER": "cryptopro"})
    assert verified(openssl, cert, ESIA_STRING, signer.sign(ESIA_STRING))


@pytest.mark.parametrize("command, message", [
    ("false", "failed"),
    (f"{sys.executable} -c \"print('short')\"", "64-byte"),
    ("/no/such/signer", "did not run"),
    ("", "not set"),
])
def test_command_signer_failures_are_clear(command, message):
    with pytest.raises(SigningFailed, match=message):
        CommandSigner({"ESIA_SIGN_COMMAND": command}).sign(b"x")


def test_a_non_gost_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(UnusableKey, match="not GOST"):
        load_private_key(pem)
    with pytest.raises(UnusableKey):
        load_private_key(b"not a key")


def test_generated_test_certificate_is_valid_for_openssl(openssl):
    """The fake ESIA's test pair is made in pure Python; OpenSSL must agree with it."""
    key_pem, cert_pem = gost.generate("regapp QA")
    key, cert = openssl.folder / "gen-key.pem", openssl.folder / "gen-cert.pem"
    key.write_bytes(key_pem)
    cert.write_bytes(cert_pem)
    assert b": OK" in openssl("verify", "-CAfile", str(cert), str(cert))
    signature = openssl("dgst", "-md_gost12_256", "-sign", str(key), data=ESIA_STRING)
    public, curve = gost.load_public_key(cert_pem)
    assert gost.verify(public, curve, ESIA_STRING, signature)
    assert not gost.verify(public, curve, ESIA_STRING + b"!", signature)
    mine = GostSigner({"ESIA_KEY_PATH": str(key), "ESIA_CERT_PATH": str(cert)})
    assert verified(openssl, str(cert), ESIA_STRING, mine.sign(ESIA_STRING))


@pytest.mark.parametrize("paramset", ["A", "TCA"])
def test_verify_accepts_openssl_signatures(openssl, paramset):
    key, cert = keypair(openssl, paramset)
    signature = openssl("dgst", "-md_gost12_256", "-sign", key, data=ESIA_STRING)
    with open(cert, "rb") as f:
        public, curve = gost.load_public_key(f.read())
    assert gost.verify(public, curve, ESIA_STRING, signature)
    assert not gost.verify(public, curve, ESIA_STRING, signature[::-1])
