"""The fast paths say exactly what the libraries say (issue 15).

A Russian mobile in its usual shapes is read without phonenumbers, and a plain ASCII
e-mail without email-validator; every input either path takes must come out the same as
the library's reading of it, which still decides everything else. Hypothesis generates the
shapes HR files hold and the near misses around them. The form fields' attributes are
written as WTForms writes them.
"""

from hypothesis import example, given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms.widgets import html_params

from regapp import normalize, roster_rows, roster_writers, widgets

digits = st.text("0123456789", min_size=1, max_size=4)
separators = st.sampled_from(["", " ", "-", " - ", "  "])


@st.composite
def written_mobiles(draw):
    """A 9xx number as people write it: a prefix, brackets or not, groups and separators."""
    number = "9" + draw(st.text("0123456789", min_size=9, max_size=9))
    prefix = draw(st.sampled_from(["", "+7", "8", "7", "+7 ", "8 ", "7 ", " +7"]))
    code = number[:3]
    code = draw(st.sampled_from([code, f"({code})", f"({code}) ", f"{code} "]))
    sep = [draw(separators) for _ in range(3)]
    return f"{prefix}{code}{sep[0]}{number[3:6]}{sep[1]}{number[6:8]}{sep[2]}{number[8:]}"


#: anything made of what phones are written with, to meet the regular expression's edges
phone_like = st.text("0123456789 +()-87", min_size=1, max_size=20)


def _slow_phone(value):
    try:
        return normalize._normalize_phone(value, ("RU",))
    except normalize.Invalid:
        return None


#: 930, where phonenumbers' metadata allots only some numbers: the fast path must agree
in_930 = st.text("0123456789", min_size=7, max_size=7).map(lambda d: f"+7 930 {d[:3]}-{d[3:5]}-{d[5:]}")


@given(st.one_of(written_mobiles(), phone_like, in_930))
@example("79161234567")
@example("+7 930 005-12-34")
@example("+7 930 000-12-34")
@example("8 939 123-45-67")
@example("+7 (916) 123-45-67")
@example("8 (900) 000-00-00")
def test_the_fast_phone_path_agrees_with_phonenumbers(typed):
    if normalize._RU_MOBILE.fullmatch(typed.strip()):
        assert _phone(typed) == _slow_phone(typed), typed


def _phone(value):
    try:
        return normalize.normalize_phone(value)
    except normalize.Invalid:
        return None


label = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
local = st.from_regex(r"[A-Za-z0-9]{1,6}(?:[._+-][A-Za-z0-9]{1,6}){0,3}", fullmatch=True)


@st.composite
def plain_emails(draw):
    labels = draw(st.lists(label, min_size=1, max_size=3))
    tld = draw(st.one_of(st.from_regex(r"[a-z]{2,6}", fullmatch=True),
                         st.sampled_from(["test", "local", "invalid", "onion", "ru", "рф"])))
    return f"{draw(local)}@{'.'.join(labels)}.{tld}"


#: anything made of what addresses are written with
email_like = st.text("abcXYZ019._+-@", min_size=3, max_size=30)


def _slow_email(value):
    try:
        return normalize._normalize_email(value)
    except normalize.Invalid:
        return None


@given(st.one_of(plain_emails(), email_like))
@example("Ivan.Petrov@example.com")
@example("a@ab--cd.ru")
@example("a@xn--80a1acny.xn--p1ai")
@example("a@b.test")
@example("x" * 64 + "@example.com")
def test_the_fast_email_path_agrees_with_email_validator(typed):
    fast = normalize._PLAIN_EMAIL.fullmatch(typed.strip())
    if fast and fast.group(1).rpartition(".")[2] not in normalize._SPECIAL_USE_TLDS:
        assert normalize.normalize_email(typed) == _slow_email(typed), typed


#: attribute names as the templates pass them: ``class_``, ``aria_describedby``, ``hx-post``…
attribute_names = st.from_regex(r"\A(class_|for_|aria_[a-z_]{1,12}|data_[a-z_]{1,8}|hx-[a-z]{2,8}|"
                                r"[a-z]{1,12})\Z")
attribute_values = st.one_of(st.booleans(), st.text(max_size=40), st.integers(),
                             st.text(max_size=20).map(Markup))


@given(st.dictionaries(attribute_names, attribute_values, max_size=8))
@example({"class_": "field__input", "value": 'О"Брайен <b>&', "required": True,
          "disabled": False, "aria_describedby": "phone-hint phone-error"})
@example({"title": Markup('a "safe" one')})
def test_the_fast_attributes_are_wtforms_own(kwargs):
    """A form page writes its inputs' attributes without WTForms' Markup.format, and
    writes exactly what WTForms would (issue 15)."""
    assert widgets.attributes(**kwargs) == html_params(**kwargs)


def test_the_csrf_token_is_written_as_wtforms_writes_it(app):
    """The CSRF token's hidden input goes through the fast attributes too, and reads the
    same (issue 15)."""
    from wtforms.widgets import HiddenInput

    from regapp.forms import CodeForm

    with app.test_request_context("/register/code"):
        token = CodeForm().csrf_token
        assert isinstance(token.widget, widgets.HiddenInput)
        assert str(token()) == str(HiddenInput()(token)) and token.current_token in str(token())


def test_a_form_makes_its_csrf_token_only_when_shown(app):
    """Built and not shown (an inline check's answer, a submit answered by a redirect), a
    form signs no token (Flask-WTF keeps a request's signed token in ``g``); shown, it
    writes the request's token, and a token sent back is still checked (issue 15)."""
    from flask import g
    from flask_wtf.csrf import generate_csrf

    from regapp.forms import CodeForm, RegistrationForm

    with app.test_request_context("/register/code"):
        form = CodeForm()
        assert form.csrf_token.type == "CSRFTokenField"
        assert "csrf_token" not in g
        shown = str(form.csrf_token())
        assert g.csrf_token and g.csrf_token == generate_csrf() and g.csrf_token in shown
    with app.test_request_context("/register", method="POST", data={"csrf_token": "forged"}):
        form = RegistrationForm()
        assert not form.validate() and form.csrf_token.errors


#: a checked row's values as the PostgreSQL writer gets them: text (now and then with what
#: COPY must escape), a date, or nothing
copied_values = st.one_of(st.none(), st.dates(), st.text(max_size=12),
                          st.text("ab\\\t\n\rN", max_size=6))


@given(st.integers(1, 10**7), st.lists(copied_values, min_size=13, max_size=13).map(tuple))
@example(2, ("\\N", None, "a\tb", "x"))
@example(3, (None, None, "\\", "\n"))
def test_the_fast_copy_line_is_the_careful_one(line, fields):
    """A roster row goes to COPY as the careful per-value escaping would write it (issue 15)."""
    careful = "\t".join(map(roster_writers._copy_text, (line, *fields))) + "\n"
    assert roster_writers.copy_line(line, fields) == careful


@given(st.text(st.characters(codec="utf-8"), max_size=8)
       | st.text(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u200b\ufeff\u2007a1", max_size=6))
@example("")
@example(" \t ")
@example("\u200b")
@example("\x1f")
def test_a_blank_cell_is_what_cleaning_leaves_empty(text):
    assert roster_rows._blank(text) == (not normalize.clean_text(text))


@given(st.text(st.characters(codec="utf-8"), max_size=12)
       | st.text(" -\u2013\u00a0\u200b№Nn0123ДМСдмс", max_size=12))
def test_a_policy_number_cleaned_first_keys_the_same(text):
    """check_cells hands policy_key the number it already cleaned (issue 15)."""
    def key(value):
        try:
            return normalize.policy_key(value)
        except normalize.Invalid as exc:
            return str(exc)
    assert key(normalize.cell_text(text)) == key(text)
