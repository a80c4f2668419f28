"""Everything the portal says to a person, by key: one table, overridable per deployment.

A deployment changes any wording in ``instance/config.py``::

    TEXTS = {"signin.wrong": "Телефон или пароль не подошли"}

Keys stay stable; the words are the insurer's (the seed's where it has them). Values
are ``str.format`` templates: ``{help_phone}`` and the like are filled by the caller.

What is not here, and why: page prose lives in the templates; SMS and e-mail bodies in
``templates/sms`` and ``templates/email``; field labels and button names are the outward
contract (INTERFACES.md) and stay in :mod:`regapp.forms`; consent labels are part of the
versioned documents a person agrees to (:mod:`regapp.documents`); refusal reasons read
out to support agents are keyed in :data:`regapp.matching.REASONS`.
"""

from __future__ import annotations

import sys

TEXTS = {
    # sign-in (R23)
    "signin.wrong": "Неверный номер телефона или пароль",
    "reauth.wrong": "Неверный пароль",
    "signin.locked": ("Слишком много неудачных попыток входа. Попробуйте через {minutes} мин. "
                      "или восстановите пароль по СМС («Забыли пароль?»)"),
    # what a field takes (R8–R10, R13): the same words for the forms and the roster report
    "input.required": "Заполните поле",
    "name.too_long": "Не длиннее {most} символов",
    "name.digits": "Цифры в имени не допускаются",
    "name.chars": "Допустимы буквы, пробел, дефис и апостроф",
    "name.latin": "Введите как в паспорте, кириллицей",
    "phone.required": "Укажите номер мобильного телефона",
    "phone.several": "Указано несколько номеров: нужен один",
    "phone.extension": "Укажите номер без добавочного",
    "phone.excel": "Номер записан как число Excel ({typed}): нужен текст",
    "phone.chars": "Номер может содержать только цифры, например {example}",
    "phone.invalid": "Проверьте номер, например {example}",
    "phone.not_mobile": "Это не мобильный номер: на него не придёт СМС",
    "phone.country": "Номера этой страны не принимаются: укажите российский мобильный",
    "email.required": "Укажите E-mail",
    "email.several": "Указано несколько адресов: нужен один",
    "email.invalid": "Проверьте E-mail, например ivan.petrov@example.ru",
    "email.mixed_scripts": "В адресе смешаны русские и латинские буквы: проверьте раскладку",
    "date.format": "Укажите дату в виде {form}",
    "date.impossible": "Такой даты нет: {typed}",
    "birth_date.future": "Дата рождения не может быть в будущем",
    "birth_date.year": "Проверьте год рождения",
    "birth_date.too_young": "Зарегистрироваться самостоятельно можно с {age} лет",
    "policy.required": "Укажите номер полиса ДМС",
    "policy.too_long": "Слишком длинный номер полиса ДМС",
    # a roster cell whose Excel formula gave no value (a lookup's #N/A)
    "cell.excel_error": "ошибка Excel: формула в клетке не дала значения, исправьте её в файле",
    # passwords (R10): the hints ticked as one types, and the refusals
    "password.hint.length": "Не короче {least} символов",
    "password.hint.personal": "Без имени, телефона и номера полиса",
    "password.hint.strength": "Трудно подобрать: например, три-четыре случайных слова",
    "password.too_short": "Пароль должен быть не короче {least} символов",
    "password.too_long": "Пароль должен быть не длиннее {most} символов",
    "password.personal": "Пароль не должен содержать ваше имя, телефон или номер полиса",
    "password.weak": ("Такой пароль легко подобрать: он слишком простой или часто встречается. "
                      "Добавьте слово или несколько символов"),
    # the help line (INSURER_NAME fills {to_insurer}: « в Allianz»)
    "help.line": "Нужна помощь? Позвоните{to_insurer}:",
    "help.registration": "Нужна помощь для регистрации? Позвоните{to_insurer}:",
    # registration, both forms (R8–R17)
    "policy.mismatch": "Номер полиса не совпадает с указанным в письме",
    "phone.taken": "Номер уже занят: его использует другой пользователь личного кабинета",
    "email.taken": "E-mail уже занят: его использует другой пользователь личного кабинета",
    "esia.taken": "Эта учётная запись Госуслуг уже связана с другим личным кабинетом",
    "password.mismatch": "Пароли не совпадают",
    "consent.required": "Без этого согласия регистрация невозможна",
    "form.check_fields": "Проверьте поля, отмеченные ниже",
    "signup.not_found": ("Мы не нашли вас среди застрахованных с действующим полисом. "
                         "Проверьте, что ФИО и дата рождения — как в паспорте, а телефон или E-mail — те, что вы сообщили "
                         "работодателю. Если всё верно, позвоните нам: {help_phone}"),
    "signup.phone_first": "Сначала подтвердите номер телефона",
    "signup.phone_confirmed": "Номер телефона уже подтверждён: осталось ввести код из письма.",
    "code.other_tab": ("В другой вкладке форма отправлена ещё раз, и действующий код ушёл на "
                       "номер {phone}. Введите код из СМС на этот номер."),
    "signup.link_spent": "Эта ссылка уже использована: регистрация по ней завершена",
    "signup.registered": "Вы уже зарегистрированы: войдите с телефоном и паролем",
    # one-time codes (R28)
    "code.too_soon": "Новый код можно запросить через {seconds} с",
    "code.wait": "Новый код можно запросить через {seconds} с.",
    "code.too_many": "Слишком много кодов за час. Попробуйте позже",
    "code.locked": "Слишком много неверных попыток. Попробуйте через час",
    "code.none": "Код устарел или не запрашивался. Запросите новый код",
    "code.expired": "Срок действия кода истёк. Запросите новый код",
    "code.wrong": "Неверный код. Осталось попыток: {remaining}",
    "code.wrong_last": "Неверный код. Попытки закончились: запросите новый код",
    "code.malformed": "Введите {digits} цифр из сообщения",
    "code.sent_again": "Новый код отправлен",
    "code.delayed": "СМС задерживается, мы пробуем ещё раз. Если код не придёт, запросите новый.",
    "recovery.code_problem": "Код неверный или устарел. Проверьте СМС или запросите новый код",
    # the personal account (R23, issue 6)
    "account.link_sent": "Ссылка для подтверждения отправлена на {email}",
    "account.password_changed": "Пароль изменён. На других устройствах нужно войти заново.",
    "account.session_ended": "Сеанс завершён: на том устройстве нужно войти заново.",
    "account.phone_changed": "Телефон изменён.",
    "account.email_changed": "E-mail изменён и подтверждён.",
    # e-mail confirmation (R33)
    "confirm.confirmed": "E-mail подтверждён. Спасибо!",
    "confirm.used": "Этот E-mail уже подтверждён по этой ссылке.",
    "confirm.changed": "Ссылка относится к адресу, который в профиле уже заменён.",
    "confirm.taken": ("Этот E-mail уже подтвердил его владелец в своём личном кабинете. "
                      "Укажите в профиле свой адрес."),
    "confirm.unknown": "Ссылка не работает: откройте её из письма целиком.",
    # Gosuslugi (R19–R21)
    # declined or failed, in the words of the place the person set off from (issue 14)
    "esia.declined.register": ("Вы отказались передать данные с Госуслуг. "
                               "Можно зарегистрироваться и без них: заполните форму."),
    "esia.declined.login": ("Вы отказались передать данные с Госуслуг. Войдите по номеру "
                            "телефона и паролю или попробуйте ещё раз."),
    "esia.declined.link": ("Вы отказались передать данные с Госуслуг, поэтому они не связаны "
                           "с личным кабинетом. Связать их можно в любой момент."),
    "esia.untrusted": ("Ваша учётная запись на Госуслугах не подтверждена. Подтвердите её "
                       "(например, в МФЦ) или зарегистрируйтесь без Госуслуг."),
    "esia.failed.register": ("Не удалось получить данные с Госуслуг ({code}). Попробуйте ещё "
                             "раз или продолжите без них."),
    "esia.failed.login": ("Не удалось войти через Госуслуги ({code}). Попробуйте ещё раз или "
                          "войдите по номеру телефона и паролю."),
    "esia.failed.link": ("Не удалось связать Госуслуги ({code}). Попробуйте ещё раз чуть "
                         "позже."),
    "esia.expired": "Вход через Госуслуги не завершён. Попробуйте ещё раз.",
    "esia.no_account": ("Нет личного кабинета, связанного с этой учётной записью Госуслуг. "
                        "Войдите по номеру телефона и свяжите Госуслуги в личном кабинете, "
                        "или зарегистрируйтесь."),
    "esia.received": "Данные получены с Госуслуг:",
    "esia.mismatch": ("Данные с Госуслуг (ФИО и дата рождения) не совпадают с данными "
                      "вашего полиса, поэтому личный кабинет не будет связан с Госуслугами. "
                      "Продолжите регистрацию без них или позвоните нам: {help_phone}"),
    "esia.mismatch_link": ("Данные с Госуслуг (ФИО и дата рождения) не совпадают с данными "
                           "вашего полиса: Госуслуги не связаны. Позвоните нам: {help_phone}"),
    "esia.taken_go_on": ("Эта учётная запись Госуслуг уже связана с другим личным кабинетом. "
                         "Можно зарегистрироваться без Госуслуг: заполните форму."),
    "esia.linked": "Госуслуги связаны с личным кабинетом: теперь можно входить через них.",
    "esia.unlinked": "Госуслуги отвязаны от личного кабинета.",
    # invitation links (R6)
    "link.unknown.title": "Ссылка не работает",
    "link.unknown": "Ссылка неполная или в ней ошибка. Откройте её из письма целиком или попросите новую.",
    "link.expired.title": "Срок действия ссылки истёк",
    "link.expired": "Ссылка больше не действует. Позвоните нам — мы отправим новую.",
    "link.revoked.title": "Эта ссылка заменена новой",
    "link.revoked": "Мы отправили вам новое письмо со ссылкой. Откройте ссылку из последнего письма.",
    "link.spent.title": "Вы уже зарегистрированы",
    "link.spent": "Регистрация по этой ссылке завершена. Войдите с номером телефона и паролем.",
    # subjects of the e-mails (their bodies are templates/email/*)
    "subject.invitation": "Приглашение в {service}",
    "subject.confirm_email": "Подтвердите E-mail",
    "subject.email_code": "Код подтверждения E-mail",
    "subject.new_device": "Вход с нового устройства",
    "subject.contact_changed": "Изменены данные личного кабинета",
    # error pages
    "error.404.title": "Страница не найдена",
    "error.404": "Проверьте адрес или начните с главной страницы.",
    "error.403.title": "Нет доступа",
    "error.403": "Этот раздел не для вашей роли. Если он нужен вам по работе, обратитесь к "
                 "администратору.",
    "error.400.title": "Запрос не принят",
    "error.400": "Обновите страницу и попробуйте ещё раз.",
    "error.429.title": "Слишком много попыток",
    "error.429": "Подождите немного и попробуйте снова.",
    "phone.current": "Это ваш текущий номер. Укажите новый, если хотите его сменить",
    "email.current": "Это ваш текущий E-mail. Укажите новый, если хотите его сменить",
    "account.link_sent_recently": ("Ссылка уже отправлена на {email}: проверьте почту, в том "
                                   "числе папку «Спам». Отправить ещё раз можно через минуту."),
    "signout.done": "Вы вышли из личного кабинета.",
    "signout.everywhere": "Вы вышли из личного кабинета на всех устройствах.",
    "limit.form": "Слишком много попыток подряд. Подождите минуту и отправьте форму ещё раз: "
                  "введённое сохранено.",
    # what the page says when htmx gets an error answer instead of a fragment (static/app.js)
    "request.stale": "Страница устарела — обновите её.",
    "request.failed": "Не удалось отправить: проверьте связь и попробуйте ещё раз.",
    "error.503.title": "Сервис временно недоступен",
    "error.503": "Попробуйте через минуту. Введённое на этой странице не сохранилось.",
    "error.500.title": "Что-то пошло не так",
    "error.500": "Мы уже разбираемся. Попробуйте ещё раз чуть позже.",
    # the staff console (issue 16)
    "staff.sso_down": "Служба входа сотрудников не отвечает ({detail}): попробуйте позже",
    "staff.no_id_token": "Служба входа не прислала ID-токен: вход отклонён",
    "staff.no_role": ("У вашей учётной записи нет доступа к кабинету сотрудника: попросите "
                      "администратора добавить вас в группу операторов или поддержки"),
    "staff.declined": "Вход отменён в службе входа",
    "staff.job_fault": "внутренняя ошибка: сообщите дежурному номер задачи {job}",
    "staff.job_lost": ("задача прервалась: её обработчик остановился (перезапуск или нехватка "
                       "памяти); запустите её снова"),
    "staff.job_fault.invitations": ("; часть приглашений могла уйти: отправьте снова, ушедшие "
                                    "не повторятся"),
    "staff.stale": "Ответ службы входа не к этому входу (устарел или подменён): войдите ещё раз",
    "staff.expired": "ID-токен службы входа просрочен: войдите ещё раз",
    "staff.bad_signature": "Подпись ID-токена не сходится: вход отклонён",
    "staff.bad_claims": ("ID-токен не для этого входа (nonce, издатель или получатель): "
                         "вход отклонён"),
    "staff.failed": "Служба входа ответила ошибкой ({detail}): войдите ещё раз",
    "staff.signed_out": "Вы вышли из кабинета сотрудника.",
    "staff.provider_ended": ("Служба входа больше не подтверждает ваш вход (учётная запись "
                             "отключена или вход завершён там): войдите ещё раз"),
    "staff.no_refresh_token": ("Служба входа не даёт проверить ваш доступ повторно: "
                               "войдите ещё раз"),
    "staff.provider_down": ("Служба входа давно не отвечает, и ваш доступ не проверить: "
                            "войдите ещё раз, когда она заработает"),
    "staff.reason_required": "Напишите причину: она попадёт в журнал",
    "staff.not_found": "Никого не нашли: проверьте номер полиса, телефон или e-mail",
    "staff.resent": "Приглашение отправлено заново на e-mail из списка",
    "staff.sessions_ended": "Сеансы застрахованного завершены: {count}",
    "staff.unlinked": "Госуслуги отключены от личного кабинета; застрахованному сообщено",
    "staff.nothing_to_do": "Делать нечего: {why}",
    "staff.no_account": "Такой учётной записи уже нет: найдите человека ещё раз",
    "staff.no_esia": "Делать нечего: Госуслуги не подключены",
    "staff.roster_kind": "Нужен файл списка: {kinds}",
    "staff.not_an_invitation": ("Это не приглашение: код одноразовый, застрахованный запросит "
                                "новый сам"),
}


class Said(str):
    """Words said to a person that remember their key, so code compares keys, not Russian."""

    key: str

    def __new__(cls, words, key):
        said = super().__new__(cls, words)
        said.key = key
        return said


def text(key, **values):
    """The words for ``key``, the deployment's ``TEXTS`` first, with ``values`` filled in."""
    words = _overrides().get(key) or TEXTS[key]
    return Said(words.format(**values) if values else words, key)


def key_of(words):
    """The key that ``words`` were said under, or None for text from elsewhere."""
    return getattr(words, "key", None)


def _overrides():
    """The deployment's ``TEXTS``, when an app is at work."""
    return app_setting("TEXTS") or {}


def app_setting(name):
    """A setting of the app at work, or None outside one (plugins import this without Flask)."""
    flask = sys.modules.get("flask")
    if flask is None or not flask.has_app_context():
        return None
    return flask.current_app.config.get(name)
