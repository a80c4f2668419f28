"""What many tests share: a password the policy accepts, the CSRF token, htmx headers, codes."""

import re

#: a password zxcvbn scores 4 and that names nobody (R10)
GOOD = "correct horse battery staple"
#: the headers of an htmx request that swaps part of a page
HX = {"HX-Request": "true"}


def check_of(field):
    """The headers of an inline check of ``field``: htmx names the field it leaves."""
    return {**HX, "HX-Trigger-Name": field}


def csrf(page):
    """The CSRF token in a rendered form."""
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def code_in(text):
    """The one-time code an SMS or e-mail carries (its only run of 6 digits)."""
    return re.search(r"\b(\d{6})\b", text).group(1)


class Auth:
    """Sign a test client in and out through the pages, as flaskr's ``auth`` fixture does."""

    def __init__(self, client):
        self.client = client

    def login(self, phone="+79161234567", password=GOOD):
        page = self.client.get("/login").get_data(as_text=True)
        return self.client.post("/login", data={"csrf_token": csrf(page), "phone": phone,
                                                "password": password})

    def logout(self):
        page = self.client.get("/account").get_data(as_text=True)
        return self.client.post("/logout", data={"csrf_token": csrf(page)})
