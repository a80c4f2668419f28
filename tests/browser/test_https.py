"""Over HTTPS as production serves it (issue 11, R28, R32): gunicorn with TLS, and gunicorn
behind nginx (the README's example block) with PROXY_HOPS = 1; `regapp worker` delivers.
A registration by link and a sign-in in Chromium, every POST through CSRF's HTTPS check.
"""

import pytest
from playwright.sync_api import expect

from regapp.testing.peers import free_port
from tests.browser.conftest import OutboxReader, open_page
from tests.browser.person import GOOD, at_account, register_by_link, sign_out, type_into
from tests.conftest import keep_in_suite_log
from tests.deployment import Deployment, make_certificate

pytestmark = pytest.mark.slow  # gunicorn with TLS, nginx and a worker for each walk

PETROV = {"email": "a.petrov@example.com", "policy": "ДМС-2025-000101",
          "phone_typed": "8 916 123-45-67", "phone_e164": "+79161234567",
          "first_name": "Александр"}


class Served(OutboxReader):
    def __init__(self, deployment, base):
        self.deployment, self.base = deployment, base

    def messages(self):
        return self.deployment.outbox()


@pytest.fixture(params=["gunicorn-tls", "nginx-proxy"])
def https_portal(request, tmp_path, fake_esia_materials, backend):
    certificate = make_certificate(tmp_path)
    port, app_port = free_port(), free_port()
    base = f"https://127.0.0.1:{port}"
    extra = {"DATABASE": backend["database"], "RATELIMIT_STORAGE_URI": backend["redis"]} \
        if backend else {}
    deployment = Deployment(tmp_path, fake_esia_materials.folder, PUBLIC_URL=base, **extra)
    try:
        deployment.load_demo_roster()
        deployment.worker()
        if request.param == "gunicorn-tls":
            deployment.gunicorn(port, "--certfile", str(certificate[0]),
                                "--keyfile", str(certificate[1]))
        else:  # TLS ends at nginx; the app trusts one proxy for address and scheme
            deployment.gunicorn(app_port, PROXY_HOPS=1)
            deployment.nginx(port, app_port, certificate)
        yield Served(deployment, base)
    finally:
        deployment.stop()
        keep_in_suite_log(deployment.logs())


def test_register_and_sign_in_over_https(browser, https_portal):
    context, page, watch = open_page(browser, https_portal.base)
    try:
        page.goto("/")
        assert page.url.startswith("https://")
        register_by_link(page, https_portal, **PETROV)
        sign_out(page)
        page.goto("/login")
        type_into(page, "Мобильный телефон", "+7 916 123-45-67", first=True)
        type_into(page, "Пароль", GOOD)
        page.keyboard.press("Enter")
        at_account(page, "Александр")
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["session"]["secure"] and cookies["session"]["httpOnly"]
        response = page.request.get("/account")
        assert "max-age=" in response.headers["strict-transport-security"]
    finally:
        context.close()
    assert not watch.problems, "\n".join(watch.problems)


def test_a_post_from_another_origin_is_refused_over_https(browser, https_portal):
    context, page, _ = open_page(browser, https_portal.base)
    try:
        page.goto("/login")
        token = page.locator("input[name=csrf_token]").input_value()
        refused = page.request.post("/login", form={"csrf_token": token, "phone": "89161234567",
                                                    "password": "x"},
                                    headers={"Referer": "https://evil.example/"})
        assert refused.status == 400
        expect(page.get_by_role("heading", level=1)).to_have_text("Вход в личный кабинет")
    finally:
        context.close()


@pytest.mark.parametrize("https_portal", ["nginx-proxy"], indirect=True)
def test_nginx_compresses_css_and_scripts_but_never_a_page(https_portal):  # issue 14, BREACH
    import urllib.request

    from tests.deployment import UNVERIFIED

    def encoding(path):
        request = urllib.request.Request(https_portal.base + path,
                                         headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, context=UNVERIFIED) as answer:
            return answer.headers.get("Content-Encoding")

    assert encoding("/static/vendor/htmx.min.js") == "gzip"
    assert encoding("/static/app.css") == "gzip"
    assert encoding("/register") is None  # it holds a CSRF token
