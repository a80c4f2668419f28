"""What support may do for a person (issue 16), each written to the audit trail with its
reason and outcome (in the change's own transaction where the change is made here).
Plain Python: tests call it directly."""

from __future__ import annotations

from regapp import audit, invitations, messaging, notifications, sessions, support
from regapp.db import write_transaction
from regapp.models import Account


def look_up(staff, query, regions):
    """Support's search; the look itself is audited (152-FZ: who saw whose data)."""
    found = support.lookup(query, regions)
    audit.record(staff, "view", subject=query.strip(), found_records=len(found.records),
                 found_accounts=len(found.accounts))
    return found


def resend_invitation(staff, policy, reason):
    """A fresh link to the record's e-mail (R6); the old one stops working."""
    report = invitations.resend_invitation(policy)
    audit.record(staff, "resend_invitation", subject=policy, reason=reason,
                 sent=report.sent, refused=report.refused)
    return report


def end_sessions(staff, account_id, subject, reason):
    """Sign the person out everywhere (a lost phone, a shared computer); how many sessions
    ended, or None when there is no such account (a stale page)."""
    with write_transaction():
        account = Account.get_or_none(Account.id == account_id)
        if account is None:
            return None
        Account.update(session_epoch=Account.session_epoch + 1).where(
            Account.id == account.id).execute()
        ended = sessions.end_all(account)
        audit.record(staff, "end_sessions", subject=subject, reason=reason,
                     account=account.id, ended=ended)
    return ended


def unlink_esia(staff, account_id, subject, reason):
    """Unlink Gosuslugi from the account; the person is told and signed out everywhere."""
    with write_transaction():
        account = Account.get_or_none(Account.id == account_id)
        if account is None or not account.esia_id:
            return False
        Account.update(esia_id=None, session_epoch=Account.session_epoch + 1).where(
            Account.id == account.id).execute()
        sessions.end_all(account)
        told = notifications.contact_changed(
            account.phone, account.email if account.email_confirmed else None, "esia_unlink")
        audit.record(staff, "unlink_esia", subject=subject, reason=reason, account=account.id)
    messaging.dispatch([m.id for m in told])
    return True
