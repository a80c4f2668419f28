"""Property-based hostile input (issue 13): arbitrary text and bytes in every field of every
form and inline check, fields repeated, missing and unknown, the CSRF token sometimes gone.
Whatever arrives: no 5xx, no markup echoed unescaped, and no change of state a valid post
would not make. Bounded here; ``tox -e soak`` runs the same with many more examples
(``HYPOTHESIS_PROFILE=soak``)."""

import json
import urllib.parse

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from regapp.models import Account, Message, RosterRecord
from tests.helpers import GOOD, csrf

pytestmark = pytest.mark.settings(RATELIMIT_ENABLED=False)

FIELDS = ["last_name", "first_name", "patronymic", "birth_date", "phone", "email", "policy",
          "password", "confirmation", "current", "code", "value", "terms", "pd", "marketing",
          "terms_version", "pd_version", "marketing_version", "submit", "unknown"]
#: markup that must never come back as markup: none of the app's own pages holds it
MARKUP = "<svg onload=alert(1)>"
FRAGMENTS = [MARKUP, "' OR 1=1 --", "'; DROP TABLE account; --", "\x00", "\u202e\u200f",
             "\ud800", "Ёжик\u0301", "٣٤٥", "+7 916 123-45-67", "89161234567", "2", "1",
             "a.petrov@example.com", "14.03.1985", "ДМС-2025-000101", "y", GOOD, "x" * 5000,
             "%", "&=&", "\r\n\t"]

#: any text, lone surrogates, NUL and direction marks more often than chance would give
texts = st.text(st.one_of(st.characters(), st.sampled_from("\ud800\udfff\x00\u202e\u200f<>&\"'")),
                max_size=300)
values = st.one_of(
    st.sampled_from(FRAGMENTS),
    texts,
    st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join),
    st.binary(max_size=200),  # broken UTF-8 among them
)
#: what a JSON body may hold instead: any JSON value, nested
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.sampled_from(FRAGMENTS), texts),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6)


def posts_of(fields):
    """Posts of any of ``fields``, url-encoded, multipart or JSON, an inline check or not."""
    return st.one_of(
        st.fixed_dictionaries({
            "as": st.sampled_from(["form", "multipart"]),
            "pairs": st.lists(st.tuples(st.sampled_from(fields), values), max_size=12),
            "with_token": st.booleans(),
            "inline": st.one_of(st.none(), st.sampled_from(fields))}),
        st.fixed_dictionaries({
            "as": st.just("json"),
            "pairs": st.lists(st.tuples(st.sampled_from(fields), json_values), max_size=12),
            "with_token": st.booleans(),
            "inline": st.one_of(st.none(), st.sampled_from(fields))}),
    )


posts = posts_of(FIELDS)


def _request(token, post):
    """(body, content type): url-encoded with raw bytes allowed, multipart, or JSON; fields
    repeated or missing as generated."""
    if post["as"] == "json":
        body = dict(post["pairs"]) | ({"csrf_token": token} if post["with_token"] else {})
        return json.dumps(body), "application/json"
    parts = ([("csrf_token", token)] if post["with_token"] else []) + post["pairs"]
    if post["as"] == "multipart":
        boundary = "fuzz-boundary-7f3a"
        body = b"".join(
            b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
                boundary.encode(), name.encode(), _raw(value)) for name, value in parts)
        return body + b"--%s--\r\n" % boundary.encode(), f"multipart/form-data; boundary={boundary}"
    body = "&".join(f"{urllib.parse.quote(name)}={_quoted(value)}" for name, value in parts)
    return body, "application/x-www-form-urlencoded"


def _raw(value):
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _quoted(value):
    if isinstance(value, bytes):
        return urllib.parse.quote_from_bytes(value)
    return urllib.parse.quote(value, errors="surrogatepass")


def _state():
    """What no invalid post may change."""
    return (Account.select().count(), RosterRecord.select().count(),
            [(a.phone, a.email, a.password_hash) for a in Account.select().order_by(Account.id)],
            Message.select().where(Message.kind.not_in(["code", "email_code"])).count())


def _post(client, path, page, post):
    body, content_type = _request(csrf(page), post)
    headers = {"Content-Type": content_type, "X-CSRFToken": csrf(page) if post["with_token"]
               and post["as"] == "json" else ""}
    if post["inline"]:
        headers.update({"HX-Request": "true", "HX-Trigger-Name": post["inline"]})
    answer = client.post(path, data=body, headers=headers)
    text = answer.get_data(as_text=True)
    assert answer.status_code < 500, text[-2000:]
    assert MARKUP not in text and "<svg" not in text
    return answer


ANONYMOUS = ["/register", "/login", "/login/forgot"]


@pytest.mark.parametrize("path", ANONYMOUS)
def test_anonymous_forms(client, account, path):
    before = _state()

    @given(post=posts)
    def post_anything(post):
        page = client.get(path).get_data(as_text=True)
        _post(client, path, page, post)
        assert _state() == before

    post_anything()


def test_the_invitation_form(client, app, tmp_path, cli, outbox):
    from tests.rosters import PEOPLE, write_csv

    assert cli("roster", "import", write_csv(tmp_path / "r.csv", PEOPLE)).exit_code == 0
    assert cli("invitations", "send").exit_code == 0
    link = outbox()[0]["text"].split(app.config["PUBLIC_URL"], 1)[1].split()[0]
    before = _state()

    @given(post=posts)
    def post_anything(post):
        page = client.get(link).get_data(as_text=True)
        _post(client, link, page, post)
        assert _state()[:3] == before[:3]  # no account made, none changed

    post_anything()


SIGNED_IN = ["/account/password", "/account/email", "/account/phone", "/esia/start/link",
             "/account/notifications/sms", "/account/email/resend", "/account/phone/code",
             "/account/sessions/nobody/end", "/esia/unlink"]


@pytest.mark.parametrize("path", SIGNED_IN)
def test_signed_in_forms(signed_in, account, path):
    before = _state()

    @given(post=posts)
    def post_anything(post):
        page = signed_in.get("/account").get_data(as_text=True)
        _post(signed_in, path, page, post)
        assert _state()[:3] == before[:3]  # the account's phone, e-mail, password stand
        assert signed_in.get("/account").status_code == 200  # still signed in

    post_anything()


def test_the_code_steps(client, account, tmp_path):
    """With a registration waiting for its code: nothing but the right code finishes it."""
    forgot = client.get("/login/forgot").get_data(as_text=True)
    client.post("/login/forgot", data={"csrf_token": csrf(forgot), "phone": "+79161234567"})
    before = _state()

    @given(post=posts, path=st.sampled_from(["/login/forgot/code", "/register/code",
                                             "/register/email-code"]))
    def post_anything(post, path):
        page = client.get("/login/forgot/code").get_data(as_text=True)  # the session's token
        _post(client, path, page, post)
        assert _state()[:3] == before[:3]

    post_anything()


#: the staff console's forms (issue 16) and the role that reaches each
STAFF_POSTS = [("support", "/staff/support/resend"), ("support", "/staff/support/end-sessions"),
               ("support", "/staff/support/unlink"), ("operator", "/staff/invitations"),
               ("operator", "/staff/roster"), ("operator", "/staff/deliveries/nobody/resend"),
               ("operator", "/staff/jobs/nothing/load"), ("support", "/staff/logout")]
STAFF_FIELDS = ["q", "subject", "target", "reason", "policy", "roster", "employer", "since",
                "until", "format", "unknown"]


@pytest.mark.parametrize("path", ["/staff/support/resend", "/staff/support/end-sessions",
                                  "/staff/support/unlink"])
def test_a_nul_in_a_staff_action_is_dropped_not_a_500(app, client, account, path):
    # PostgreSQL refuses a NUL in text: whoever sends one gets the form's answer
    from tests.test_staff import signed_in_as

    staff = signed_in_as(app, client, "support")
    page = staff.get("/staff/").get_data(as_text=True)
    answer = staff.post(path, data={"csrf_token": csrf(page), "subject": "P\x001",
                                    "target": "1\x00", "reason": "заявление\x00 номер 5"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[-2000:]


@pytest.mark.parametrize(("role", "path"), STAFF_POSTS)
def test_staff_forms(app, client, account, role, path):
    """Whatever a console form is sent, by a signed-in member of staff: no 5xx, nothing
    echoed as markup, no account or roster record changed."""
    from tests.test_staff import signed_in_as

    before = _state()

    @given(post=posts_of(STAFF_FIELDS))
    def post_anything(post):
        page = signed_in_as(app, client, role).get("/staff/").get_data(as_text=True)
        _post(client, path, page, post)
        assert _state()[:3] == before[:3]

    post_anything()


@pytest.mark.parametrize(("role", "path"), [("support", "/staff/support"),
                                            ("operator", "/staff/funnel"),
                                            ("operator", "/staff/deliveries"),
                                            ("operator", "/staff/audit")])
def test_staff_pages_take_any_query(app, client, account, role, path):
    @given(query=st.lists(st.tuples(st.sampled_from(STAFF_FIELDS), values), max_size=5))
    @example(query=[("employer", "\x00")])  # PostgreSQL refused it with a 500 once
    @example(query=[("q", "\x00")])  # and support's search, found by this test in CI
    def get_anything(query):
        answer = signed_in_as(app, client, role).get(
            path + "?" + "&".join(f"{urllib.parse.quote(k)}={_quoted(v)}" for k, v in query))
        assert answer.status_code < 500, answer.get_data(as_text=True)[-2000:]
        assert MARKUP not in answer.get_data(as_text=True)

    from tests.test_staff import signed_in_as

    get_anything()
