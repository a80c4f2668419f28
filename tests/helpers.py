"""What many tests share: a password the policy accepts, the CSRF token, htmx headers, codes."""

import contextlib
import re
import threading

from regapp.db import database

#: a password zxcvbn scores 4 and that names nobody (R10)
GOOD = "correct horse battery staple"
#: the headers of an htmx request that swaps part of a page
HX = {"HX-Request": "true"}


@contextlib.contextmanager
def statements_sent():
    """The query strings sent to the database meanwhile, as they went (a list that grows)."""
    sent = []
    database.obj.query_hooks.append(lambda event: sent.append(event.sql))
    try:
        yield sent
    finally:
        database.obj.query_hooks.clear()


def check_of(field):
    """The headers of an inline check of ``field``: htmx names the field it leaves."""
    return {**HX, "HX-Trigger-Name": field}


def csrf(page):
    """The CSRF token in a rendered form."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def step_of(response):
    """Where an htmx answer sends the person next (R30): the URL of the step it brings
    (HX-Push-Url), or HX-Location's path, which htmx then fetches."""
    return step_in(response.headers)


def step_in(headers):
    """:func:`step_of` for an answer's headers alone (None when they name no next step)."""
    import json

    if "HX-Push-Url" in headers:
        return headers["HX-Push-Url"]
    return json.loads(headers.get("HX-Location") or "{}").get("path")


def step_page(client, path):
    """The page a step's own GET gives, as htmx asks for it after HX-Location, its CSRF
    tokens blanked (signed with the second, they may differ from one request to the next)."""
    from regapp.rendering import STEP_HEADER

    return without_tokens(client.get(path, headers={**HX, STEP_HEADER: "true"}))


def without_tokens(response):
    return re.sub(r'(name="csrf_token" type="hidden" value=")[^"]+', r"\1…",
                  response.get_data(as_text=True))


def code_in(text):
    """The one-time code an SMS or e-mail carries (its only run of 6 digits)."""
    return re.search(r"\b(\d{6})\b", text).group(1)


class Auth:
    """Sign a test client in and out through the pages, as flaskr's ``auth`` fixture does."""

    def __init__(self, client):
        self.client = client

    def login(self, phone="+79161234567", password=GOOD):
        answer = self.client.get("/login")
        if answer.status_code == 303:  # signed in already: out first, as a person would
            self.logout()
            answer = self.client.get("/login")
        page = answer.get_data(as_text=True)
        return self.client.post("/login", data={"csrf_token": csrf(page), "phone": phone,
                                                "password": password})

    def logout(self):
        page = self.client.get("/account").get_data(as_text=True)
        return self.client.post("/logout", data={"csrf_token": csrf(page)})


def all_at_once(guess, count=12):
    """Run ``guess(i)`` in ``count`` threads started together; return results or exceptions."""
    barrier, results, lock = threading.Barrier(count), [], threading.Lock()

    def worker(i):
        database.connect(reuse_if_open=True)  # connected first, so the guesses overlap
        barrier.wait()
        try:
            outcome = guess(i)
        except Exception as exc:  # the outcome under test is often an exception
            outcome = exc
        finally:
            if not database.is_closed():
                database.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == count
    return results


def ends(work, seconds=120):
    """``work()``'s outcome (its value, or the exception it raised), failing if it has not
    ended in ``seconds``: a hang's test, not a speed's (each ends in well under a second)."""
    outcome = []

    def run():
        try:
            outcome.append(work())
        except Exception as exc:  # noqa: BLE001 (the outcome the test looks at)
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still reading after {seconds} s"
    return outcome[0]
