"""Parallel guesses never pass the limits (issue 11, R28), on SQLite and on PostgreSQL.

Each guess runs in its own thread on its own database connection, all released at once
by a barrier, the way simultaneous requests reach several app processes.
"""

import threading

from regapp import auth, otp, passwords
from tests.helpers import GOOD, all_at_once

GUESSES = 12  # all_at_once runs twelve


def test_parallel_wrong_codes_are_compared_at_most_five_times(app):
    row, code = otp.issue("+79161234567", "registration", "secret")
    row = type(row).get(type(row).code_hash == row.code_hash)  # its id is not read back
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, GUESSES + 1)]
    results = all_at_once(lambda i: otp.verify("+79161234567", "registration", wrong[i],
                                               "secret"))
    compared = [r for r in results if isinstance(r, otp.Wrong)]
    assert 1 <= len(compared) <= otp.LIMITS.tries_per_code
    assert all(isinstance(r, otp.CodeError) for r in results)  # no server error among them
    assert type(row).get_by_id(row.id).wrong_tries == otp.LIMITS.tries_per_code


def test_the_right_code_among_parallel_guesses_opens_once(app):
    _, code = otp.issue("+79161234567", "registration", "secret")
    guesses = [code] * 3 + [f"{(int(code) + n) % 10**6:06d}" for n in range(1, GUESSES - 2)]
    results = all_at_once(lambda i: otp.verify("+79161234567", "registration", guesses[i],
                                               "secret"))
    assert sum(not isinstance(r, Exception) for r in results) <= 1
    assert sum(isinstance(r, otp.Wrong) for r in results) <= otp.LIMITS.tries_per_code


def test_parallel_wrong_passwords_are_checked_at_most_five_times(app, account, monkeypatch):
    checked, lock = [], threading.Lock()
    verify = passwords.verify_password

    def counting(stored, password):
        with lock:
            checked.append(password)
        return verify(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    results = all_at_once(lambda i: auth.check_password(
        "8 916 123-45-67", f"wrong guess {i}", f"198.51.100.{i}", ("RU",)))
    assert all(isinstance(r, auth.SignInRefused) for r in results)
    assert 1 <= len(checked) <= 5  # the phone's free tries, whatever the addresses
    assert GOOD not in checked
