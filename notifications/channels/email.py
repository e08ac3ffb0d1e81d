"""Email through Django's mail backend (SMTP in production: ``EMAIL_URL=smtp+tls://user:pass@host:587``).

One SMTP session carries a whole batch. Every mail has a stable ``Message-ID`` built from the message's uid, so
a mail repeated after a worker died between the server's acceptance and the ``sent`` mark can be recognised.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
from collections.abc import Iterator

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from notifications.channels.base import PermanentError, TransientError, Transport


def message_id_for(message) -> str:
    return f"<{message.uid}@{settings.NOTIFY_MESSAGE_ID_DOMAIN}>"


def _classify(exc: BaseException) -> TransientError | PermanentError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
        if codes and all(code >= 500 for code in codes):
            return PermanentError(f"The mail server refused the recipient ({detail}).")
        return TransientError(f"The mail server deferred the recipient ({detail}).")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentError(f"The mail server refused the credentials: {exc.smtp_code} {exc.smtp_error!r}.")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        if 500 <= exc.smtp_code < 600:
            return PermanentError(f"The mail server refused the mail: {exc.smtp_code} {text}.")
        return TransientError(f"The mail server deferred the mail: {exc.smtp_code} {text}.")
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
        return TransientError(f"Could not reach the mail server: {exc.__class__.__name__}: {exc}")
    return TransientError(f"{exc.__class__.__name__}: {exc}")


class _Session:
    def __init__(self) -> None:
        self.connection = None

    def _connection(self):
        if self.connection is None:
            connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
            try:
                connection.open()
            except Exception as exc:
                raise _classify(exc) from exc
            self.connection = connection
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def send(self, message) -> str:
        message_id = message_id_for(message)
        mail = EmailMultiAlternatives(
            subject=message.subject or "Muster",
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.target],
            headers={"Message-ID": message_id, "X-Muster-Message": str(message.uid)},
            connection=self._connection(),
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        try:
            mail.send(fail_silently=False)
        except Exception as exc:
            self.close()  # the session may be broken: the next mail opens a fresh one
            raise _classify(exc) from exc
        return message_id


class EmailTransport(Transport):
    name = "email"
    label = "Email"

    def enabled(self) -> bool:
        return bool(settings.NOTIFY_EMAIL)

    def configuration_error(self) -> str:
        if not self.enabled():
            return "Switched off: set EMAIL_URL (or NOTIFY_EMAIL=true) to send email."
        return ""

    @contextlib.contextmanager
    def session(self) -> Iterator[_Session]:
        session = _Session()
        try:
            yield session
        finally:
            session.close()

    def send(self, message) -> str:
        with self.session() as session:
            return session.send(message)
