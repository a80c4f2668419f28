"""Hostile input gets an answer, never a server error (issue 13): forms posted as JSON or
multipart, values of every JSON type, text that cannot be written as UTF-8."""

import json

import pytest

from tests.helpers import csrf

WEIRD = [True, False, None, 0, 12.5, {"a": 1}, ["x", {"b": 2}], "\ud800", "x" * 10_000,
         "<script>alert(1)</script>", "' OR 1=1 --", "\u202eтекст", "\x00"]
FORMS = ["/register", "/login", "/login/forgot"]


def _token(client, path):
    return csrf(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("value", WEIRD, ids=repr)
def test_json_of_any_type_in_every_field_gets_an_answer(client, path, value):
    token = _token(client, path)
    names = ["last_name", "first_name", "patronymic", "birth_date", "phone", "email",
             "password", "confirmation", "terms", "pd", "terms_version", "pd_version"]
    body = json.dumps({name: value for name in names}, ensure_ascii=True)
    answer = client.post(path, data=body, content_type="application/json",
                         headers={"X-CSRFToken": token})
    assert answer.status_code < 500
    assert "<script>alert(1)</script>" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("value", WEIRD[8:], ids=repr)
def test_multipart_and_inline_checks_answer_too(client, value):
    token = _token(client, "/register")
    data = {"csrf_token": token, "phone": value, "email": value, "password": value}
    answer = client.post("/register", data=data, content_type="multipart/form-data")
    assert answer.status_code < 500
    check = client.post("/register", data=data,
                        headers={"HX-Request": "true", "HX-Trigger-Name": "phone"})
    assert check.status_code < 500


def test_bytes_that_are_not_utf8_get_an_answer(client):
    token = _token(client, "/register")
    body = f"csrf_token={token}&phone=%ED%A0%80%FF&email=%C0%AE&last_name=%00".encode()
    answer = client.post("/register", data=body,
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code < 500
