"""Benchmark (not a test): «Забыли пароль?» for a registered and an unknown phone.

    python bench/recovery_timing.py --runs 200

Posts the recovery form through the app (in-process, SQLite, the embedded
queue in immediate mode) for a phone that has an account and one that does
not, and prints the median time of each and their ratio. Issue 6 asks for the
same order of magnitude: a ratio near 1.
"""

import argparse
import re
import statistics
import tempfile
import time

from regapp import create_app, migrations, passwords
from regapp.models import Account, RosterRecord


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ["REGAPP_INSTANCE_PATH"] = tmp
        app = create_app({"QUEUE": "immediate", "RATELIMIT_ENABLED": False,
                          "WTF_CSRF_ENABLED": False})
        with app.app_context():
            migrations.upgrade()
            record = RosterRecord.create(policy_number="P1", policy_key="p1", last_name="Петров",
                                         first_name="Иван", name_key="петров иван",
                                         birth_date="1985-02-01")
            Account.create(record=record, phone="+79161234567", email="i@example.com",
                           email_key="i@example.com", password_hash=passwords.hash_password("x"))
        times = {"registered": [], "unknown": []}
        for _ in range(args.runs):
            for kind, phone in (("registered", "+79161234567"), ("unknown", "+79031234567")):
                client = app.test_client()
                with app.app_context():
                    from regapp.models import OneTimeCode

                    OneTimeCode.delete().execute()  # keep the per-hour limits out of the way
                started = time.perf_counter()
                response = client.post("/login/forgot", data={"phone": phone})
                times[kind].append(time.perf_counter() - started)
                assert response.status_code == 303 and re.search("forgot/code", response.location)
    registered = statistics.median(times["registered"]) * 1000
    unknown = statistics.median(times["unknown"]) * 1000
    print(f"runs:        {args.runs}")
    print(f"registered:  {registered:.2f} ms median")
    print(f"unknown:     {unknown:.2f} ms median")
    print(f"ratio:       {registered / unknown:.2f}")


if __name__ == "__main__":
    main()
