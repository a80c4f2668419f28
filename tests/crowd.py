"""Many people registering without a link against a running portal, over plain HTTP: for the
concurrency, fault and load runs (issue 13). Person ``n`` has a roster row of their own:
one name shared by all, a different patronymic, phone and e-mail each."""

import http.client
import threading
import time
import urllib.parse

from tests.helpers import GOOD, csrf, step_in
from tests.rosters import person, write_csv
from tests.test_instances import Browser

PATRONYMICS = ["Петрович", "Сергеевич", "Андреевич", "Олегович", "Павлович", "Юрьевич",
               "Игоревич", "Романович"]


def patronymic(n):
    return f"{PATRONYMICS[n % 8]}-{_letters(n // 8)}"  # many different people of one name


def _letters(n):
    alphabet = "абвгдежзиклмнопрстуфхцчшщэюя"
    word = alphabet[n % len(alphabet)]
    while n >= len(alphabet):
        n = n // len(alphabet) - 1
        word = alphabet[n % len(alphabet)] + word
    return word


def phone(n):
    return f"+79165{n:06d}"


def write_roster(path, size):
    rows = [person(f"P{n:06d}", last="Иванов", first="Иван", patronymic=patronymic(n),
                   born="01.02.1985", phone=phone(n), email=f"p{n}@example.com")
            for n in range(size)]
    return write_csv(path, rows)


#: the X-Request-Id an inline check of person ``n`` goes with, to find it in the server's log
CHECK_ID = "inline-check-{:08d}"


class KeptAlive:
    """A browser as the load runs need one: its requests over one kept-alive connection, as
    a real browser sends them (a connection a request cost the client as much CPU again as
    the requests, on the cores it measures), cookies kept by name (the portal's paths only)."""

    def __init__(self, base, timeout=15):
        address = urllib.parse.urlsplit(base)
        self.connection = http.client.HTTPConnection(address.hostname, address.port,
                                                     timeout=timeout)
        self.cookies = {}

    def get(self, url):
        return self._open("GET", url)

    def post(self, url, fields, headers=None):
        return self._open("POST", url, urllib.parse.urlencode(fields).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def _open(self, method, url, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            response = self._send(method, urllib.parse.urlsplit(url).path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.connection.close()  # the server closed an idle one: as a browser, again
            response = self._send(method, urllib.parse.urlsplit(url).path, body, headers)
        for cookie in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.headers, response.read().decode()

    def _send(self, method, path, body, headers):
        self.connection.request(method, path, body, headers)
        return self.connection.getresponse()


def start(base, n, timeout=15, inline_check=False, kept_alive=False, htmx=False):
    """Fill in and send the registration form as person ``n``; their browser, at the code.
    ``inline_check``: first the phone field's check, as leaving the field asks it;
    ``kept_alive``: one connection for all their requests (:class:`KeptAlive`); ``htmx``:
    the form sent as htmx sends it, JavaScript on, and the code step's page in its answer
    (kept as the browser's ``code_page``)."""
    browser = KeptAlive(base, timeout) if kept_alive else Browser(timeout)
    _, _, page = browser.get(base + "/register")
    fields = {
        "csrf_token": csrf(page), "last_name": "Иванов", "first_name": "Иван",
        "patronymic": patronymic(n), "birth_date": "01.02.1985", "phone": phone(n),
        "email": f"p{n}@example.com", "password": GOOD, "confirmation": GOOD, "terms": "y",
        "pd": "y", "terms_version": "1", "pd_version": "1", "marketing_version": "1"}
    if inline_check:
        status, _, body = browser.post(base + "/register", fields, {
            "HX-Request": "true", "HX-Trigger-Name": "phone", "X-Request-Id": CHECK_ID.format(n)})
        assert status == 200 and "занят" not in body, (n, status, body[:300])
    if htmx:
        status, headers, body = browser.post(base + "/register", fields, {
            "HX-Request": "true", "HX-Target": "register-form"})
        assert (status, headers.get("HX-Push-Url")) == (200, "/register/code"), (n, status,
                                                                                 body[:300])
        browser.code_page = body
        return browser
    status, headers, body = browser.post(base + "/register", fields)
    assert (status, headers.get("Location")) == (303, "/register/code"), (n, status, body[:300])
    return browser


def finish(browser, base, code):
    """Type the code; the account page follows. A browser that sent the form as htmx has
    the code step's page already, and sends the code as htmx too."""
    code_page = getattr(browser, "code_page", None)
    htmx = code_page is not None
    if not htmx:
        _, _, code_page = browser.get(base + "/register/code")
    status, headers, body = browser.post(
        base + "/register/code", {"csrf_token": csrf(code_page), "code": code},
        {"HX-Request": "true", "HX-Target": "code-step"} if htmx else None)
    next_step = step_in(headers) if htmx else headers.get("Location")
    assert (status, next_step) == (204 if htmx else 303, "/account"), (status, body[:300])


#: the benchmarks' clients start evenly over this many seconds (issue 15): fifty arriving at
#: the same instant on a fresh server measured that herd, not the load that follows it
RAMP_UP = 1.0


def at_once(work, items, parallel, ramp_up=0.0):
    """Run ``work(item)`` for every item, ``parallel`` at a time; (results, failures), every
    failure reported, none hidden. ``ramp_up``: the ``parallel`` runners start evenly over
    that many seconds, as people arrive, not all at the same instant."""
    results, failures, lock = [], [], threading.Lock()
    pending = list(items)

    def one_at_a_time(delay):
        time.sleep(delay)
        while True:
            with lock:
                if not pending:
                    return
                item = pending.pop(0)
            try:
                results.append(work(item))
            except Exception as exc:
                failures.append(f"{item}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one_at_a_time, args=(k * ramp_up / parallel,))
               for k in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, failures
