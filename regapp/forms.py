"""The forms; inline htmx checks and full submits go through the same classes (R30)."""

import hashlib
import weakref

from flask import g, redirect, request, session
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import MultiDict
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields.core import UnboundField

from regapp import documents, texts
from regapp.widgets import (
    BooleanField,
    HiddenField,
    HiddenInput,
    PasswordField,
    StringField,
    SubmitField,
)

#: the CSRF token's input (see ``Form.Meta.bind_field``)
_TOKEN_INPUT = HiddenInput()


class TokenWhenShown(CSRFTokenField):
    """The CSRF token made when the form is shown, not whenever it is built: an inline
    check's answer, a submit answered by a redirect never show it, and signing it is work
    for nothing there (issue 15). Checking a submitted token is unchanged."""

    _made = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "CSRFTokenField"  # what the inline checks know it by

    def process(self, *args, **kwargs):
        super(CSRFTokenField, self).process(*args, **kwargs)  # a hidden field's: no token yet

    @property
    def current_token(self):
        if self._made is None:
            self._made = self.csrf_impl.generate_csrf_token(self)
        return self._made

    @current_token.setter
    def current_token(self, token):
        self._made = token


class Form(FlaskForm):
    """Every form's base: whatever arrives becomes plain text before a field sees it.

    Flask-WTF hands a JSON body to the fields as it is: booleans, numbers, objects and
    lists, or a lone surrogate, reached the domain and ended in a 500 (issue 13). Here a
    JSON scalar becomes its text, a list its texts, an object nothing, and text that
    cannot be written as UTF-8 has the offending characters replaced (:func:`plain_text`).
    """

    class Meta:
        def wrap_formdata(self, form, formdata):
            formdata = FlaskForm.Meta.wrap_formdata(self, form, formdata)
            if formdata is None:
                return None
            if request.is_json:
                formdata = _from_json(request.get_json(silent=True))
            return MultiDict([(key, plain_text(value)) for key, value in formdata.items(multi=True)
                              if isinstance(value, str)])

        def bind_field(self, form, unbound_field, options):
            """The CSRF token made only when shown (:class:`TokenWhenShown`), its hidden input
            written as every other field's (widgets.py): WTForms' own widget wrote it through
            the slow formatter, twice a code step.

            A field knows its form by a weak reference: a strong one made every form a
            cycle with its fields, ~80 objects a form left to the garbage collector, whose
            pauses (3-5 ms for the older generation on a busy machine) stopped every thread
            of the worker: the p99 of issue 15. Nothing reads a field's form once the form
            is gone."""
            if unbound_field.field_class is CSRFTokenField:
                unbound_field = UnboundField(TokenWhenShown, *unbound_field.args,
                                             name=unbound_field.name, **unbound_field.kwargs)
                options = {**options, "widget": _TOKEN_INPUT}
            return FlaskForm.Meta.bind_field(self, weakref.proxy(form), unbound_field, options)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recall_refusal()

    def refused_then_show_again(self):
        """POST → redirect → GET for a refused code step without JS (issue 14): F5 then
        shows the refusal again instead of sending the same wrong code once more, and Back
        never meets «resubmit the form?». The errors wait in the session for that GET."""
        session["refused"] = {"path": request.path, "form": list(self.form_errors),
                              "fields": {f.name: list(f.errors) for f in self if f.errors}}
        return redirect(request.path, code=303)

    def _recall_refusal(self):
        kept = session.get("refused") if request.method == "GET" else None
        if kept and kept.get("path") == request.path:
            session.pop("refused")
            self.form_errors.extend(kept["form"])
            for name, errors in kept["fields"].items():
                if name in self._fields:
                    self._fields[name].errors = errors

    def validate_on_submit(self, extra_validators=None):
        """A submit over its rate limit is answered inside the form: refused above it, with
        what was typed kept (issue 14); see ``views.common.limit_view``."""
        if g.get("over_limit") and self.is_submitted():
            self.form_errors.append(g.over_limit)
            return False
        return super().validate_on_submit(extra_validators)


def _from_json(body):
    pairs = []
    for key, value in (body.items() if isinstance(body, dict) else ()):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                pairs.append((key, "y" if item else ""))
            elif isinstance(item, (str, int, float)):
                pairs.append((key, str(item)))
    return MultiDict(pairs)


def plain_text(value):
    """Text any database stores: what cannot be written as UTF-8 replaced, a NUL dropped
    (nobody types one, and PostgreSQL refuses it: a support search for «\\x00» was a 500)."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


#: fields that an inline check never names
_NOT_CHECKED = ("SubmitField", "CSRFTokenField", "HiddenField")


def is_inline_check():
    """Whether this request is an htmx inline check of one field, not a submit."""
    return bool(request.headers.get("HX-Request") and request.headers.get("HX-Trigger-Name"))


class InlineChecks:
    """One inline-check mechanism for every form (R30), after canaille's ``HTMXFormMixin``.

    A field's check is an htmx POST of the whole form to the form's own URL, naming the
    field in ``HX-Trigger-Name`` (the field macro's ``check``). The view runs the same
    rules as a submit and answers with that field's error line only
    (:func:`regapp.rendering.answer_check`).
    """

    def checked_field(self):
        """The field an inline check asks about, or None for a real submit."""
        if not is_inline_check():
            return None
        field = self._fields.get(request.headers["HX-Trigger-Name"])
        return field if field is not None and field.type not in _NOT_CHECKED else None

    def apply(self, errors):
        """Put the domain's errors beside their fields (one about no field of the form goes
        above it); True when there are none."""
        for name, message in errors.items():
            if name in self._fields:
                self._fields[name].errors = [message]
            else:
                self.form_errors.append(message)
        return not errors


class ConsentsMixin:
    """The three consents, with the versions the page showed (R11)."""

    terms = BooleanField(documents.LABELS["terms"])
    pd = BooleanField(documents.LABELS["pd"])
    marketing = BooleanField()  # its label names the insurer: set per deployment below
    terms_version = HiddenField(default=documents.CURRENT["terms"][1])
    pd_version = HiddenField(default=documents.CURRENT["pd"][1])
    marketing_version = HiddenField(default=documents.CURRENT["marketing"][1])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.marketing.label.text = documents.label("marketing")

    def consents(self):
        """kind → (given, version shown)."""
        return {kind: (bool(getattr(self, kind).data),
                       getattr(self, f"{kind}_version").data or documents.CURRENT[kind][1])
                for kind in documents.CURRENT}


class LinkRegistrationForm(InlineChecks, ConsentsMixin, Form):
    """R7: the form an invitation link opens."""

    policy = StringField("Номер полиса", render_kw={"autocomplete": "off"})
    phone = StringField("Мобильный телефон", render_kw={
        "type": "tel", "autocomplete": "tel", "inputmode": "tel", "placeholder": "+7 (___) ___-__-__"})
    password = PasswordField("Пароль", render_kw={"autocomplete": "new-password"})
    confirmation = PasswordField("Подтверждение пароля", render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Зарегистрироваться")


class RegistrationForm(InlineChecks, ConsentsMixin, Form):
    """R13: the registration tab, for people without a link."""

    last_name = StringField("Фамилия", render_kw={"autocomplete": "family-name"})
    first_name = StringField("Имя", render_kw={"autocomplete": "given-name"})
    patronymic = StringField("Отчество", render_kw={"autocomplete": "additional-name"})
    birth_date = StringField("Дата рождения", render_kw={
        "inputmode": "numeric", "placeholder": "ДД.ММ.ГГГГ", "autocomplete": "bday",
        "pattern": r"\d{1,2}[. \/\-]\d{1,2}[. \/\-]\d{4}\.?|\d{8}|\d{4}-\d{2}-\d{2}"})
    phone = LinkRegistrationForm.phone
    email = StringField("E-mail", render_kw={
        "type": "email", "autocomplete": "email", "inputmode": "email"})
    password = LinkRegistrationForm.password
    confirmation = LinkRegistrationForm.confirmation
    submit = SubmitField("Зарегистрироваться")

    def values(self):
        """The typed values as the domain checks take them."""
        names = ("last_name", "first_name", "patronymic", "birth_date", "phone", "email",
                 "password", "confirmation")
        return {**{n: getattr(self, n).data or "" for n in names}, "consents": self.consents()}


#: a code field: pasted with spaces or a dash (« 003 259») it must not be cut short, so
#: the length allows them; the server keeps the digits and checks there are six (issue 14)
CODE_INPUT = {"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": "12",
              "pattern": r"[\s\-]*(\d[\s\-]*){6}"}


class EmailCodeForm(Form):
    """The e-mail code step (R17)."""

    code = StringField("Код из письма", render_kw=CODE_INPUT)
    submit = SubmitField("Подтвердить")


class ConfirmEmailForm(Form):
    """The button that confirms an e-mail (R33)."""

    submit = SubmitField("Подтвердить")


class CodeForm(Form):
    """A one-time code step; ``step`` names the registration the page was shown for, so a
    code typed in a tab another tab has overtaken is told apart (issue 14)."""

    step = HiddenField()

    code = StringField("Код из СМС", render_kw=CODE_INPUT)
    submit = SubmitField("Подтвердить")

    def show_for(self, pending_id):
        self.step.data = _step_mark(pending_id)

    def is_for(self, pending_id):
        """Whether the page sent was shown for this registration (no mark: an old page)."""
        return not self.step.data or self.step.data == _step_mark(pending_id)


def _step_mark(pending_id):
    """A short mark of a pending registration for its page: its id is the session's secret."""
    return hashlib.sha256(f"step:{pending_id}".encode()).hexdigest()[:16]


class ResendForm(Form):
    """Ask for a new code."""

    submit = SubmitField("Отправить код повторно")


class LoginForm(Form):
    """Sign-in by phone and password (R23)."""

    phone = StringField("Мобильный телефон", render_kw={
        "type": "tel", "autocomplete": "tel", "inputmode": "tel"})
    password = PasswordField("Пароль", render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Войти")


class ForgotForm(Form):
    """R24: the phone to send a recovery code to."""

    phone = LoginForm.phone
    submit = SubmitField("Получить код")


class NewPasswordForm(InlineChecks, Form):
    """R24: the code and the new password."""

    code = CodeForm.code
    password = PasswordField("Новый пароль", render_kw={"autocomplete": "new-password"})
    confirmation = PasswordField("Подтверждение пароля", render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Сохранить пароль")


class ChangePasswordForm(InlineChecks, Form):
    """The current password, then the new one twice (issue 12, ASVS V6.2.3)."""

    current = PasswordField("Текущий пароль", render_kw={"autocomplete": "current-password"})
    password = NewPasswordForm.password
    confirmation = NewPasswordForm.confirmation
    submit = SubmitField("Сохранить пароль")


class ReauthForm(Form):
    """The current password, asked again before a sensitive change (issue 12)."""

    password = PasswordField("Текущий пароль", render_kw={"autocomplete": "current-password"})


class ActionForm(Form):
    """A button's form: nothing but its CSRF token (toggles, resend, unlink, sign-out everywhere)."""


class LogoutForm(ActionForm):
    """Sign-out is a POST, so a link scanner cannot sign anyone out."""

    submit = SubmitField("Выйти")


# -- the staff console (issue 16) ------------------------------------------------------


class StaffLookupForm(Form):
    """Support's search: a policy number, a phone or an e-mail (GET, no CSRF needed)."""

    class Meta:
        csrf = False

    q = StringField("Номер полиса, телефон или e-mail", render_kw={"autocomplete": "off"})


class StaffActionForm(Form):
    """A staff action on a person: whom (the search that found them) and why (audited)."""

    subject = HiddenField()
    reason = StringField("Причина (для журнала)", render_kw={"autocomplete": "off"})

    def validate_reason(self, field):
        from wtforms.validators import ValidationError

        if len((field.data or "").strip()) < 5:
            raise ValidationError(texts.text("staff.reason_required"))


class RosterUploadForm(Form):
    """An operator's roster file: checked first, loaded after (issue 16). The base keeps
    text only, so the view reads the file from ``request.files``; the form checks CSRF."""

    roster = FileField("Файл списка застрахованных (CSV или XLSX)")


class PolicyForm(StaffActionForm):
    """One person's invitation sent again, by policy number, with a reason."""

    policy = StringField("Номер полиса", render_kw={"autocomplete": "off"})
