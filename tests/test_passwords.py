"""The password policy (R10) and argon2id hashing (R28)."""

import re

import pytest

from regapp import passwords

PERSON = ("Петров", "Александр", "Иванович", "+79161234567", "ДМС-2025-000101")


@pytest.mark.parametrize("password", [
    "correct horse battery staple",
    "Сосна-Утюг-Полночь",
    "ktoto zabyl zontik v metro",
    "Зелёный трамвай везёт сорок два апельсина через мост в пятницу, ок",  # 66 characters
])
def test_long_unpredictable_passwords_pass(password):
    assert passwords.check(password, PERSON) is None
    assert all(h.met for h in passwords.hints(password, PERSON))


@pytest.mark.parametrize("password, reason", [
    ("", "не короче 8"),
    ("Ab1!xyz", "не короче 8"),  # 7: no composition rule makes up for length
    ("a" * 129, "не длиннее 128"),
    ("password", "легко подобрать"),
    ("qwerty123", "легко подобрать"),
    ("11111111", "легко подобрать"),
    ("12345678", "имя, телефон или номер полиса"),  # the phone's last seven digits
    ("Петров1985!", "имя, телефон или номер полиса"),
    ("alexandr-9161234567", "имя, телефон или номер полиса"),
    ("полис2025000101", "имя, телефон или номер полиса"),
])
def test_short_common_and_personal_passwords_are_refused_in_plain_words(password, reason):
    assert reason in passwords.check(password, PERSON)


def test_no_composition_rules():
    """All lower case, no digits, no symbols: fine when long and unpredictable."""
    assert passwords.check("лиса пишет стихи на крыше", PERSON) is None


def test_hints_tick_off_as_they_are_met():
    assert [h.met for h in passwords.hints("", PERSON)] == [False, False, False]
    assert [h.met for h in passwords.hints("Петров2024", PERSON)] == [True, False, False]
    assert [h.met for h in passwords.hints("correct horse battery staple", PERSON)] == [True, True, True]


@pytest.mark.real_hash
def test_hash_is_argon2id_and_verifies():  # R28
    stored = passwords.hash_password("correct horse battery staple")
    memory, time_cost = map(int, re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),", stored).groups())
    assert memory >= 19 * 1024 and time_cost >= 2  # OWASP's least for argon2id
    assert passwords.verify_password(stored, "correct horse battery staple")
    assert not passwords.verify_password(stored, "correct horse battery stapl")
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.needs_rehash(stored)


@pytest.mark.parametrize("length", [72, 73, 100, 128])
def test_a_long_password_is_judged_not_a_server_error(length):  # issue 12: zxcvbn stops at 72
    password = ("ferret lantern quiz " * 7)[:length]
    assert passwords.check(password) is None
    assert all(hint.met for hint in passwords.hints(password))


def test_a_password_over_the_maximum_is_refused_in_words():
    assert "не длиннее" in passwords.check("x" * (passwords.MAX_LENGTH + 1))


def test_hashes_are_made_one_at_a_time_on_a_thread_of_the_lowest_priority():  # issue 15
    import os

    assert passwords.verify_password(passwords.hash_password("x" * 12), "x" * 12)
    [thread] = passwords._hashing._threads  # one thread: one hash at a time per process
    assert os.sched_getscheduler(thread.native_id) == os.SCHED_IDLE  # pages go first


def test_a_registration_hashes_before_it_takes_the_write_lock(app, monkeypatch):  # issue 15
    """SQLite has one write lock: a hash inside the transaction would stop every other
    writer for its tenth of a second."""
    from regapp import registration
    from regapp.db import database
    from regapp.models import RosterRecord
    from regapp.roster import import_roster
    from tests.rosters import person, write_csv

    real = passwords.hash_password
    inside = []
    monkeypatch.setattr(passwords, "hash_password",
                        lambda p: inside.append(database.in_transaction()) or real(p))
    import_roster(app.extensions["regapp.adapters"].roster_source("csv"),
                  write_csv(app.instance_path + "/r.csv", [person("P1")]))
    registration.start(RosterRecord.get(), "+79161234567", "a@example.com", {}, "x" * 12,
                       app.config)
    assert inside == [False]


def test_a_process_forked_after_hashing_hashes_too():  # issue 15: its thread did not follow
    import multiprocessing

    passwords.hash_password("before the fork")
    with multiprocessing.get_context("fork").Pool(1) as pool:
        made = pool.apply_async(passwords.hash_password, ("x" * 12,)).get(timeout=30)
    assert passwords.verify_password(made, "x" * 12)
