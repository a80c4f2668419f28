"""Settings: built-in defaults, then ``instance/config.py``, then ``REGAPP_*``.

The names are the outward contract listed in INTERFACES.md.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

DEFAULTS = {
    "DATABASE": None,  # SQLite in the instance folder
    # PostgreSQL: the frequent statements prepared once a connection (regapp.statements);
    # False behind a pooler that lends a connection per transaction (PgBouncer's)
    "DATABASE_PREPARE": True,
    # PostgreSQL: a request's statement is cut off after this many seconds (0: never) and
    # the person told to try again; commands and the queue's jobs are not limited
    "DATABASE_STATEMENT_TIMEOUT": 20,
    "QUEUE": "sqlite",
    "PUBLIC_URL": "http://127.0.0.1:5000",
    "QA_MODE": False,
    "SMS_GATEWAY": "fake",
    "SMS_HTTP_URL": None,
    "SMS_HTTP_TOKEN": None,
    "SMS_HTTP_TIMEOUT": 10,
    "EMAIL_SENDER": "fake",
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_TLS": "none",
    "SMTP_TIMEOUT": 30,
    "MAIL_FROM": None,
    "ESIA_PROVIDER": None,
    "ESIA_BASE_URL": None,
    "ESIA_CLIENT_ID": None,
    "ESIA_SCOPE": "openid fullname",
    "ESIA_SIGNER": "gost",
    "ESIA_KEY_PATH": None,
    "ESIA_CERT_PATH": None,
    "ESIA_TOKEN_CERT_PATH": None,
    "ESIA_ISSUER": None,
    "ESIA_STRING_VERSION": 2,  # 1: the legacy signed string, for stands that want it
    "ESIA_SIGN_COMMAND": None,  # the "command" signer's program
    "ESIA_SIGN_BYTE_ORDER": "openssl",  # or "cryptopro"
    # the staff console (issue 16): the insurer's OpenID Connect provider; off without it
    # (QA mode offers a fake one)
    "STAFF_OIDC_METADATA_URL": None,
    "STAFF_OIDC_CLIENT_ID": None,
    "STAFF_OIDC_CLIENT_SECRET": None,
    "STAFF_OIDC_GROUPS_CLAIM": "groups",
    # what the console asks the provider for; some give a refresh token only with
    # offline_access (see STAFF_RECHECK_SECONDS)
    "STAFF_OIDC_SCOPE": "openid profile email",
    "STAFF_OPERATOR_GROUPS": "",  # comma-separated
    "STAFF_SUPPORT_GROUPS": "",
    # how often the provider is asked again whether a member still holds their roles (its
    # refresh token; 0: never, a member keeps the console until the session ends)
    "STAFF_RECHECK_SECONDS": 300,
    "HELP_PHONE": "8-800-100-88-00",
    "INSURER_NAME": "",  # «Allianz»: help lines, consents and e-mails name it
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",  # redis://… when several processes serve
    # Prometheus metrics at /metrics; log lines as text or JSON
    "METRICS_ENABLED": False,
    "LOG_FORMAT": "text",
    # reverse proxies in front whose X-Forwarded-For/-Proto/-Host are trusted (0: none)
    "PROXY_HOPS": 0,
    "SERVICE_NAME": "Личный кабинет застрахованного",
    # invitations (R6)
    "INVITATION_TTL_DAYS": 30,
    # self-registration without a link is for adults by default (R13)
    "SELF_REGISTRATION_MIN_AGE": 18,
    # support (R31): how long refused attempts are kept
    "REFUSAL_RETENTION_DAYS": 90,
    # phones (R9): regions whose mobiles are accepted
    "PHONE_REGIONS": ("RU",),
    # XLSX rosters: refused before parsing when they would unpack past these (zip bombs)
    "ROSTER_XLSX_MAX_UNPACKED": 512 * 2**20,
    "ROSTER_XLSX_MAX_SHARED_STRINGS": 128 * 2**20,
    # XLSX rosters: the fast reader's memory cap (a child process); 0 streams with openpyxl
    "ROSTER_XLSX_FAST_MEMORY": 512 * 2**20,
    # durable delivery (R26): attempts and the first back-off, doubled each time
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_RETRY_DELAY": 30,
    # e-mails a connection and a transaction carry: each batch costs a connection, a
    # transaction and a claim of its own (invitations in one process, alternated on a
    # slow day: about 930 a second at 100, 1,100 at 500, issue 15)
    "DELIVERY_BATCH_SIZE": 500,
    # the fake providers: where they keep messages (R27), and a switch to fail
    "OUTBOX_PATH": None,
    "FAKE_SMS_FAIL": False,
    "FAKE_EMAIL_FAIL": False,
    # cookies (R28)
    "SESSION_IDLE_MINUTES": 30,  # a session ends after this long unused (issue 12)
    "SESSION_MAX_HOURS": 12,  # and after this long in all
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,  # None: on when PUBLIC_URL is https
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,
    # what the portal says, by key (regapp/texts.py): a deployment's own wording
    "TEXTS": {},
    # extra plugin modules to register, by import name
    "PLUGINS": (),
    "SMTP_CA_FILE": None,
}

SECRET_FILE = "secret_key"

#: a Redis URL's schemes (``QUEUE``, ``RATELIMIT_STORAGE_URI``)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: seconds a process waits for Redis before going on without it: a request never hangs
#: on an unreachable Redis (a blocking read of the queue waits 1 s, under these)
REDIS_TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5}


def load(app, test_config=None):
    """Fill ``app.config`` from defaults, the instance file and the environment."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("REGAPP")
    else:
        app.config.from_mapping(test_config)
    _derive(app)


def _derive(app):
    """Fill the settings whose defaults depend on other settings."""
    config = app.config
    instance = Path(app.instance_path)
    if not config.get("DATABASE"):
        config["DATABASE"] = f"sqlite:///{instance / 'regapp.db'}"
    config["INSTANCE_PATH"] = str(instance)
    if not config.get("OUTBOX_PATH"):
        config["OUTBOX_PATH"] = str(instance / "outbox.jsonl")
    _refuse_unsafe(config)
    _refuse_out_of_range(config)
    if not config.get("SECRET_KEY"):  # QA mode and tests only: see _refuse_unsafe
        config["SECRET_KEY"] = _instance_secret(instance)
    if config.get("QA_MODE") and not config.get("ESIA_PROVIDER"):
        config["ESIA_PROVIDER"] = "fake"
    if config.get("ESIA_BASE_URL") and not config.get("ESIA_ISSUER"):
        host = urlsplit(config["ESIA_BASE_URL"]).netloc
        config["ESIA_ISSUER"] = f"http://{host}/"
    config["PUBLIC_URL"] = config["PUBLIC_URL"].rstrip("/")
    if config["SESSION_COOKIE_SECURE"] is None:
        config["SESSION_COOKIE_SECURE"] = config["PUBLIC_URL"].startswith("https://")
    if isinstance(config["PHONE_REGIONS"], str):
        config["PHONE_REGIONS"] = tuple(r.strip().upper() for r in config["PHONE_REGIONS"].split(","))


class UnsafeSettings(ValueError):
    """Settings that would run a real deployment open or silent; the message names the fix."""


def _refuse_unsafe(config):
    """Fail closed outside QA mode: fakes, a missing signing key, a password sent in clear."""
    if config.get("QA_MODE") or config.get("TESTING"):
        return
    problems = []
    for setting in ("SMS_GATEWAY", "EMAIL_SENDER"):
        if config.get(setting) == "fake":
            problems.append(f"{setting} = 'fake' is for QA mode only: choose a real one "
                            f"(e.g. {'http' if setting == 'SMS_GATEWAY' else 'smtp'}) "
                            "or set QA_MODE")
    if not config.get("SECRET_KEY"):
        problems.append("SECRET_KEY is not set: give every instance the same long random key")
    if config.get("SMTP_USER") and config.get("SMTP_TLS") not in ("starttls", "ssl"):
        problems.append("SMTP_USER is set but SMTP_TLS is 'none': the password would cross "
                        "the network in clear; set SMTP_TLS to 'starttls' or 'ssl'")
    if problems:
        raise UnsafeSettings("Refusing to start: " + "; ".join(problems))


#: the numeric settings and the values each may take: (least, most, whole numbers only).
#: A value set through the environment arrives as text when it is not a number; one out
#: of range failed only when first used (a batch size of 0 at the first delivery, one over
#: 999 in an older SQLite's ``IN (…)``), so the start refuses it and names it
RANGES = {
    "DATABASE_STATEMENT_TIMEOUT": (0, 3600, False),
    "SMS_HTTP_TIMEOUT": (0.1, 300, False),
    "SMTP_PORT": (1, 65535, True),
    "SMTP_TIMEOUT": (0.1, 300, False),
    "ESIA_STRING_VERSION": (1, 2, True),
    "PROXY_HOPS": (0, 10, True),
    "INVITATION_TTL_DAYS": (1, 366, True),
    "SELF_REGISTRATION_MIN_AGE": (0, 120, True),
    "REFUSAL_RETENTION_DAYS": (1, 3660, True),
    "ROSTER_XLSX_MAX_UNPACKED": (1, 2**40, True),
    "ROSTER_XLSX_MAX_SHARED_STRINGS": (1, 2**40, True),
    "ROSTER_XLSX_FAST_MEMORY": (0, 2**40, True),
    "DELIVERY_MAX_ATTEMPTS": (1, 100, True),
    "DELIVERY_RETRY_DELAY": (1, 86400, True),
    "DELIVERY_BATCH_SIZE": (1, 500, True),
    "SESSION_IDLE_MINUTES": (1, 24 * 60, True),
    "SESSION_MAX_HOURS": (1, 24 * 30, True),
    "STAFF_RECHECK_SECONDS": (0, 24 * 3600, True),
}


def _refuse_out_of_range(config):
    """Every numeric setting a number in its range, or the start fails naming each."""
    problems = []
    for name, (least, most, whole) in RANGES.items():
        value = config.get(name)
        kind = "a whole number" if whole else "a number"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        # the range first: NaN and infinity, which JSON lets through, fail it before int()
        if not number or not least <= value <= most or (whole and value != int(value)):
            problems.append(f"{name} = {value!r}: expected {kind} from {least} to {most}")
    if problems:
        raise UnsafeSettings("Refusing to start: " + "; ".join(problems))


def _instance_secret(instance):
    """Read the signing key kept in the instance folder, generating it once."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting together must agree on one key
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
