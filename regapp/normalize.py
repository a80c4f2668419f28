"""One set of normalizers for rosters and forms alike (R8, R9, R14, R16).

Every function either returns the normalized value or raises
:class:`Invalid` with a message in Russian that can stand next to a field or
beside a roster line. ``shared/research/ru-data-rules.md`` explains the cases.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

import idna
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers.phonemetadata import PhoneMetadata

from regapp.texts import text as say


class Invalid(ValueError):
    """A value that cannot be accepted; ``str()`` is the Russian reason."""


# -- text clean-up shared by names and policy numbers ------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\t"), " ")
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u2018\u02bc`\u00b4\u2032"), "'")
_CLEAN = {**_INVISIBLE, **_SPACES, **_DASHES, **_APOSTROPHES}

# lower-case Latin letters whose capitals look like Cyrillic ones (after casefold)
_LATIN_TO_CYRILLIC = str.maketrans("aeopcxykmthb", "аеорсхукмтнв")
_CYRILLIC_TO_LATIN = str.maketrans("авекмнорстух", "abekmhopctyx")

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def clean_text(value) -> str:
    """NFC, drop invisible characters, unify spaces, dashes and apostrophes."""
    if isinstance(value, str):
        return _clean_str(value)
    return _clean_str(str(value or ""))


@functools.lru_cache(maxsize=16384)
def _clean_str(value: str) -> str:
    # a roster repeats its employers, first names and dates: each is cleaned once (issue 15)
    text = unicodedata.normalize("NFC", value)
    return " ".join(text.translate(_CLEAN).split())


# -- names (R14) --------------------------------------------------------------

NAME_MAX = 100
#: what HR systems write in an empty patronymic column
PATRONYMIC_PLACEHOLDERS = {"-", "нет", "отсутствует", "б/о", "без отчества"}
_NAME_CHARS = re.compile(r"^[а-яёa-z .'(),-]+$", re.IGNORECASE)
_LOWER_PARTICLES = {"оглы", "кызы", "уулу", "ибн", "улы"}


def clean_patronymic(value) -> str:
    """The patronymic, or "" where the roster writes a placeholder for none."""
    text = clean_text(value)
    return "" if text.casefold() in PATRONYMIC_PLACEHOLDERS else text


def name_words(last_name, first_name, patronymic="") -> list[str]:
    """The three name fields as one comparable word sequence, in document order."""
    parts = (clean_text(last_name), clean_text(first_name), clean_patronymic(patronymic))
    return [word for part in parts for word in _part_words(part)]


def name_key(last_name, first_name, patronymic="") -> str:
    """The key two spellings of one person's name share (R14)."""
    return " ".join(name_words(last_name, first_name, patronymic))


def name_key_part(text: str) -> str:
    """One cleaned name field's share of :func:`name_key` (a roster caches it per spelling)."""
    return " ".join(_part_words(text))


def _part_words(text: str) -> list[str]:
    # R14: a hyphen is a word separator: «Петров Водкин» is «Петров-Водкин»
    text = text.casefold().replace("ё", "е").replace("-", " ")
    return [_fold_lookalikes(word) for word in text.split()]


def _fold_lookalikes(word: str) -> str:
    """In a word with a Cyrillic letter, read Latin look-alikes as Cyrillic."""
    return word.translate(_LATIN_TO_CYRILLIC) if _CYRILLIC.search(word) else word


def has_mixed_script(value) -> bool:
    """Whether some word mixes Latin and Cyrillic letters (a keyboard slip)."""
    return any(
        _CYRILLIC.search(word) and _LATIN.search(word) for word in clean_text(value).split()
    )


def check_name_part(value, required=True) -> str:
    """Return the cleaned name part or raise :class:`Invalid` saying what is wrong."""
    text = clean_text(value)
    if not text:
        if required:
            raise Invalid(say("input.required"))
        return ""
    if len(text) > NAME_MAX:
        raise Invalid(say("name.too_long", most=NAME_MAX))
    if any(ch.isdigit() for ch in text):
        raise Invalid(say("name.digits"))
    if not _NAME_CHARS.match(text):
        raise Invalid(say("name.chars"))
    if _LATIN.search(text) and not _CYRILLIC.search(text):
        raise Invalid(say("name.latin"))
    return text


def display_name(value) -> str:
    """A name part fit to greet with: the roster's spelling, recased only if all one case."""
    text = clean_text(value)
    if text != text.upper() and text != text.lower():
        return text
    return " ".join(_capitalize_word(word) for word in text.lower().split())


def _capitalize_word(word):
    if word in _LOWER_PARTICLES:
        return word
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


# -- phones (R9) ---------------------------------------------------------------

_PHONE_CHARS = re.compile(r"^\+?[0-9()\-. ]+$")
_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
PHONE_EXAMPLE = "+7 916 123-45-67"


#: the shape nearly every roster writes a Russian mobile in (+7 / 8 / nothing, then 9xx and
#: seven digits, with spaces, brackets or dashes): read without phonenumbers, which says
#: the same of every such number (tests/test_fast_paths.py proves it); issue 15. Whether
#: the ten digits are a mobile is phonenumbers' own pattern from its metadata (it allots
#: only parts of 930); anything else is left to the library.
_RU_MOBILE = re.compile(
    r"(?:\+7|8|7)?[ (\-]*(9\d\d)[ )\-]*(\d{3})[ \-]*(\d\d)[ \-]*(\d\d)")
_RU_MOBILE_NUMBER = re.compile(
    PhoneMetadata.metadata_for_region("RU").mobile.national_number_pattern)


def normalize_phone(value, regions=("RU",)) -> str:
    """Return the mobile number in E.164 (``+79161234567``) or raise :class:`Invalid`."""
    if isinstance(value, str) and "RU" in regions and (fast := _RU_MOBILE.fullmatch(value.strip())):
        national = "".join(fast.groups())
        if _RU_MOBILE_NUMBER.fullmatch(national):
            return "+7" + national
    return _normalize_phone(value, regions)


def _normalize_phone(value, regions):
    """Any phone, as phonenumbers reads it; every refusal with its reason."""
    text = _phone_text(value)
    if not text:
        raise Invalid(say("phone.required"))
    if re.search(r"[;,/]", text) and len(re.findall(r"\d", text)) > 12:
        raise Invalid(say("phone.several"))
    if re.search(r"доб|ext", text, re.IGNORECASE):
        raise Invalid(say("phone.extension"))
    if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", text):
        raise Invalid(say("phone.excel", typed=text))
    if not _PHONE_CHARS.match(text):
        raise Invalid(say("phone.chars", example=PHONE_EXAMPLE))
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and len(digits) == 12 and digits.startswith("78"):
        digits = "7" + digits[2:]  # "+7 (8916…": an 8 typed after the +7 mask
    try:
        number = phonenumbers.parse("+" + digits if text.startswith("+") else digits, "RU")
    except phonenumbers.NumberParseException:
        raise Invalid(say("phone.invalid", example=PHONE_EXAMPLE)) from None
    if not phonenumbers.is_valid_number(number):
        raise Invalid(say("phone.invalid", example=PHONE_EXAMPLE))
    if phonenumbers.number_type(number) not in _MOBILE:
        raise Invalid(say("phone.not_mobile"))
    if phonenumbers.region_code_for_number(number) not in regions:
        raise Invalid(say("phone.country"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_text(value) -> str:
    """The phone as text: Excel floats undone, any script's digits made ASCII."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value or "")).translate(_DASHES)
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    return " ".join(text.split())


def format_phone(e164: str) -> str:
    """A stored number as people read it: +7 916 123-45-67."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# -- e-mail (R5, R16) --------------------------------------------------------------

#: a plain ASCII address (letters, digits, and . _ + - inside the local part; lowercase
#: labels; a letter TLD): read without email-validator, which says the same of every such
#: address (tests/test_fast_paths.py proves it); issue 15
_PLAIN_EMAIL = re.compile(
    r"(?=.{1,254}$)(?=[^@]{1,64}@)[A-Za-z0-9]+(?:[._+-][A-Za-z0-9]+)*"
    r"@((?:(?!..--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?!..--)[a-z]{2,24})")
_SPECIAL_USE_TLDS = {"arpa", "invalid", "local", "localhost", "onion", "test"}


def normalize_email(value) -> tuple[str, str]:
    """Return ``(address, key)``: the address to send to and the key to compare by."""
    if isinstance(value, str) and (fast := _PLAIN_EMAIL.fullmatch(value.strip())):
        if fast.group(1).rpartition(".")[2] not in _SPECIAL_USE_TLDS:
            address = fast.group(0)
            local, _, domain = address.rpartition("@")
            return address, local.casefold() + "@" + domain
    return _normalize_email(value)


def _normalize_email(value) -> tuple[str, str]:
    """Any address, as email-validator reads it; every refusal with its reason."""
    text = unicodedata.normalize("NFC", str(value or "")).strip()
    if not text:
        raise Invalid(say("email.required"))
    if text.count("@") > 1:
        raise Invalid(say("email.several"))
    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise Invalid(say("email.invalid")) from None
    _check_domain_script(checked.domain)
    return checked.normalized, email_key(checked.normalized)


def email_key(address: str) -> str:
    """The case-insensitive comparison key; Unicode and punycode domains agree."""
    local, _, domain = address.rpartition("@")
    return local.casefold() + "@" + ascii_domain(domain)


@functools.lru_cache(maxsize=4096)  # a few domains serve most people (issue 15)
def ascii_domain(domain: str) -> str:
    """The domain as DNS and SMTP spell it (``xn--…`` for Cyrillic domains).

    IDNA2008 with UTS 46, as email-validator uses: Python's own "idna" codec is IDNA2003,
    which turns ``faß.de`` into another domain, ``fass.de``.
    """
    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        return domain.lower()


def ascii_address(address: str) -> str:
    """The address with its domain in ASCII, fit for an SMTP envelope."""
    local, _, domain = address.rpartition("@")
    return local + "@" + ascii_domain(domain)


def _check_domain_script(domain: str):
    labels = domain.split(".")
    for label in labels:
        if _CYRILLIC.search(label) and _LATIN.search(label):
            raise Invalid(say("email.mixed_scripts"))
    tld = labels[-1]
    if _CYRILLIC.search(tld) and tld.translate(_CYRILLIC_TO_LATIN).isascii():
        raise Invalid(say("email.mixed_scripts"))


# -- dates ---------------------------------------------------------------------------

_RU_DATE = re.compile(r"^(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})\.?$")
#: ДДММГГГГ: a phone's numeric keypad has no dot (issue 14)
_RU_DIGITS = re.compile(r"^(\d{2})(\d{2})(\d{4})$")
_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
           "сентября", "октября", "ноября", "декабря")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
DATE_HINT = "ДД.ММ.ГГГГ"


def parse_date(value) -> dt.date:
    """Read ДД.ММ.ГГГГ, ГГГГ-ММ-ДД, a date cell or an Excel serial; raise :class:`Invalid`."""
    if isinstance(value, dt.datetime):
        return value.date()  # the calendar date as written, never shifted by a zone
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _excel_serial(value)
    return _date_of(clean_text(value))


@functools.lru_cache(maxsize=16384)
def _date_of(text: str) -> dt.date:
    """A date written as text, read once per distinct spelling (issue 15)."""
    if not text:
        raise Invalid(say("date.format", form=DATE_HINT))
    if match := _RU_DATE.match(text) or _RU_DIGITS.match(text):
        day, month, year = map(int, match.groups())
    elif match := _ISO_DATE.match(text.split("T")[0].split(" ")[0]):
        year, month, day = map(int, match.groups())
    else:
        raise Invalid(say("date.format", form=DATE_HINT))
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise Invalid(say("date.impossible", typed=text)) from None


def spoken_date(value: dt.date) -> str:
    """«5 ноября 1978»: how a date read from what was typed is said back."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _excel_serial(value) -> dt.date:
    if not 1 <= value < 2958466:
        raise Invalid(say("date.format", form=DATE_HINT))
    return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))


def parse_birth_date(value, today=None, min_age=0) -> dt.date:
    """A plausible birth date: not in the future, not before 1900, at most 120 years ago."""
    born = parse_date(value)
    today = today or dt.date.today()
    if born > today:
        raise Invalid(say("birth_date.future"))
    if born.year < 1900 or _age(born, today) > 120:
        raise Invalid(say("birth_date.year"))
    if _age(born, today) < min_age:
        raise Invalid(say("birth_date.too_young", age=min_age))
    return born


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# -- policy numbers (R8) ---------------------------------------------------------------

POLICY_MAX = 64
_NUMBER_SIGN = re.compile(r"^(№|N[o°º]\.?)\s*", re.IGNORECASE)
_SPACES_DASHES = re.compile(r"[\s-]")


def cell_text(value) -> str:
    """A spreadsheet cell as text: 12345.0 read back as 12345."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_text(value)


def policy_key(value) -> str:
    """The comparable policy number: no spaces, dashes or «№», case and script folded."""
    text = _NUMBER_SIGN.sub("", cell_text(value).translate(_DASHES))
    key = _SPACES_DASHES.sub("", text).casefold().translate(_CYRILLIC_TO_LATIN)
    if not key:
        raise Invalid(say("policy.required"))
    if len(key) > POLICY_MAX:
        raise Invalid(say("policy.too_long"))
    return key
