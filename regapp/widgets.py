"""The form fields the app renders, with WTForms' own widgets made cheaper (issue 15).

WTForms writes each attribute through ``Markup.format`` (Python's string formatter on a
safe string): the registration form's forty-odd attributes were half of the page's time.
:func:`attributes` writes the same text with one escape an attribute; the widgets and
fields below are WTForms' own with only that swapped (``Input.html_params`` is the hook
WTForms gives for it). A property test holds it equal to ``wtforms.widgets.html_params``.
"""

from markupsafe import Markup, escape
from wtforms import fields
from wtforms.widgets import core


def attributes(**kwargs):
    """``wtforms.widgets.html_params``'s output: sorted keys, ``class_`` → ``class``,
    ``data_``/``aria_`` underscores → hyphens, True bare, False left out, values escaped."""
    parts = []
    for key, value in sorted(kwargs.items()):
        key = core.clean_key(key)
        if value is True:
            parts.append(key)
        elif value is not False:
            parts.append(f'{key}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(parts))


class _Cheaper:
    html_params = staticmethod(attributes)


class TextInput(_Cheaper, core.TextInput):
    pass


class PasswordInput(_Cheaper, core.PasswordInput):
    pass


class CheckboxInput(_Cheaper, core.CheckboxInput):
    pass


class HiddenInput(_Cheaper, core.HiddenInput):
    pass


class SubmitInput(_Cheaper, core.SubmitInput):
    pass


class StringField(fields.StringField):
    widget = TextInput()


class PasswordField(fields.PasswordField):
    widget = PasswordInput()


class BooleanField(fields.BooleanField):
    widget = CheckboxInput()


class HiddenField(fields.HiddenField):
    widget = HiddenInput()


class SubmitField(fields.SubmitField):
    widget = SubmitInput()
