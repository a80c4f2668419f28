"""One-time codes (R28): limits, expiry, single use, hashing."""

import datetime as dt

import pytest

from regapp import otp
from regapp.models import OneTimeCode, utcnow

PHONE = "+79161234567"
SECRET = "test-secret"
T0 = dt.datetime(2026, 11, 25, 9, 0, 0)


def at(seconds):
    return T0 + dt.timedelta(seconds=seconds)


def issue(now=T0, target=PHONE, purpose="registration"):
    """The code's row as stored (``otp.issue`` does not read its id back), and the code."""
    row, code = otp.issue(target, purpose, SECRET, now=now)
    return OneTimeCode.get(OneTimeCode.code_hash == row.code_hash), code


def verify(code, now=T0, target=PHONE, purpose="registration"):
    return otp.verify(target, purpose, code, SECRET, now=now)


def wrong(code):
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_is_six_digits_and_stored_only_as_a_hash(app):
    row, code = issue()
    assert len(code) == 6 and code.isdigit()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == dt.timedelta(minutes=5)


def test_the_right_code_works_once(app):
    row, code = issue()
    assert verify(f" {code[:3]} {code[3:]} ", now=at(30)).id == row.id  # spaces forgiven
    with pytest.raises(otp.NoCode):
        verify(code, now=at(31))


def test_a_code_expires_after_five_minutes(app):
    _, code = issue()
    with pytest.raises(otp.Expired):
        verify(code, now=at(300))


def test_a_code_just_before_expiry_still_works(app):
    _, code = issue()
    assert verify(code, now=at(299))


def test_the_fifth_wrong_try_ends_the_code(app):
    _, code = issue()
    for remaining in (4, 3, 2, 1):
        with pytest.raises(otp.Wrong) as caught:
            verify(wrong(code), now=at(10))
        assert caught.value.remaining == remaining
    with pytest.raises(otp.Wrong, match="закончились"):
        verify(wrong(code), now=at(10))
    with pytest.raises(otp.NoCode):
        verify(code, now=at(11))  # even the right code is dead now


def test_malformed_input_is_not_a_try(app):
    _, code = issue()
    with pytest.raises(otp.Malformed):
        verify("12ab56", now=at(5))
    assert OneTimeCode.get().wrong_tries == 0
    assert verify(code, now=at(6))


def test_resend_no_sooner_than_sixty_seconds(app):
    issue()
    with pytest.raises(otp.TooSoon) as caught:
        issue(now=at(45))
    assert caught.value.seconds == 15
    assert otp.seconds_until_resend(PHONE, "registration", now=at(45)) == 15
    _, fresh = issue(now=at(60))
    assert otp.seconds_until_resend(PHONE, "registration", now=at(60)) == 60


def test_a_new_code_replaces_the_old_one(app):
    _, old = issue()
    _, new = issue(now=at(60))
    if old != new:
        with pytest.raises(otp.Wrong):
            verify(old, now=at(61))
    assert verify(new, now=at(62))


def test_at_most_five_codes_an_hour_per_target(app):
    for n in range(5):
        issue(now=at(61 * n))
    with pytest.raises(otp.TooMany):
        issue(now=at(61 * 5))
    issue(target="+79031234567", now=at(61 * 5))  # another phone is not affected
    issue(now=at(3600 + 1))  # the first code left the hour window


def test_wrong_tries_count_across_codes(app):
    for n in range(2):
        _, code = issue(now=at(61 * n))
        for _ in range(5):
            with pytest.raises(otp.Wrong):
                verify(wrong(code), now=at(61 * n + 1))
    with pytest.raises(otp.Locked):
        issue(now=at(200))
    later = at(3600 + 200)
    _, code = issue(now=later)
    assert verify(code, now=later)


def test_codes_of_one_purpose_do_not_answer_for_another(app):
    _, code = issue(purpose="registration")
    with pytest.raises(otp.NoCode):
        verify(code, purpose="recovery", now=at(1))


def test_real_clock_defaults(app):
    _, code = otp.issue(PHONE, "email", SECRET)
    otp.verify(PHONE, "email", code, SECRET)
    row = OneTimeCode.get()
    assert row.closed_reason == "used" and row.closed_at <= utcnow()


def test_one_flows_abuse_does_not_lock_another_out(app):  # issue 12
    for n in range(2):  # a stranger asks for recovery codes and types wrong ones
        _, code = issue(now=at(n * 60), purpose="recovery")
        for k in range(5):
            with pytest.raises(otp.CodeError):
                verify(f"{(int(code) + 1 + k) % 10**6:06d}", now=at(n * 60 + 1 + k),
                       purpose="recovery")
    with pytest.raises(otp.Locked):
        issue(now=at(200), purpose="recovery")
    _, code = issue(now=at(201), purpose="registration")  # the owner's own first code goes
    assert verify(code, now=at(202), purpose="registration")


def test_a_ceiling_holds_across_purposes(app):
    limits = otp.Limits(codes_per_hour_all=3)
    for n, purpose in enumerate(["registration", "recovery", "change_phone"]):
        otp.issue(PHONE, purpose, SECRET, now=at(n), limits=limits)
    with pytest.raises(otp.TooMany):
        otp.issue(PHONE, "registration", SECRET, now=at(70), limits=limits)
    otp.issue(PHONE, "change_email", SECRET, now=at(71), limits=limits)  # a first code goes


def test_a_code_issued_inside_a_transaction_joins_it(app, monkeypatch):  # issue 15
    from regapp.db import database, write_transaction

    sent, real = [], database.obj.execute_sql
    monkeypatch.setattr(database.obj, "execute_sql",
                        lambda sql, *args, **kwargs: sent.append(sql) or real(sql, *args, **kwargs))
    with write_transaction():
        otp.issue("+79160000077", "signup", "secret")
    assert sent and not [sql for sql in sent if "SAVEPOINT" in sql.upper()]
    assert OneTimeCode.select().where(OneTimeCode.target == "+79160000077").count() == 1


def test_what_follows_a_right_code_stands_or_falls_with_its_use(app):  # issue 15
    row, code = issue()
    seen = []
    with pytest.raises(LookupError):  # what follows fails: the code stays open, no try spent
        otp.verify(PHONE, "registration", code, SECRET, now=at(30),
                   then=lambda used: seen.append(used.id) or {}["missing"])
    after = OneTimeCode.get_by_id(row.id)
    assert seen == [row.id] and after.closed_at is None and after.wrong_tries == 0
    with pytest.raises(otp.Wrong):  # a wrong code never reaches it, and its try counts
        otp.verify(PHONE, "registration", wrong(code), SECRET, now=at(31), then=seen.append)
    assert len(seen) == 1 and OneTimeCode.get_by_id(row.id).wrong_tries == 1
    assert otp.verify(PHONE, "registration", code, SECRET, now=at(32),
                      then=lambda used: ("opened", used.id)) == ("opened", row.id)
    assert OneTimeCode.get_by_id(row.id).closed_reason == "used"


@pytest.mark.settings(DATABASE_PREPARE=False)  # each statement as written, its table named
def test_a_try_is_reserved_by_the_statement_that_finds_the_code(app):  # issue 15
    """One round trip finds the open code and counts the try (under every limit of R28);
    only a refusal reads the hour's codes to tell why."""
    from tests.helpers import statements_sent

    _, code = issue()
    with statements_sent() as sent, pytest.raises(otp.Wrong) as refused:
        verify(wrong(code))
    asked = [sql for sql in sent if '"one_time_code"' in sql]
    assert refused.value.remaining == 4 and len(asked) == 1 and "RETURNING" in asked[0]
    OneTimeCode.update(expires_at=T0).execute()
    with statements_sent() as sent, pytest.raises(otp.Expired):
        verify(code)
    assert len([sql for sql in sent if '"one_time_code"' in sql]) == 3  # try, why, closed
