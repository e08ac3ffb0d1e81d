"""Email through Django's mail backend (SMTP in production: ``EMAIL_URL=smtp+tls://user:pass@host:587``).

One SMTP session carries a whole batch. Every mail has a stable ``Message-ID`` built from the message's uid, so
a mail repeated after a worker died between the server's acceptance and the ``sent`` mark can be recognised.

A fan-out sends the same subject and bodies to thousands of addresses. Over SMTP the session builds the MIME
document once per distinct content and sends it with only the per-recipient headers (To, Message-ID) in front,
instead of building and folding the whole document per mail (bench/fanout.py: about a third of the time per mail).
Other mail backends (the console, tests' locmem) get an ordinary Django ``EmailMessage`` per mail.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
from collections.abc import Iterator

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address

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
    if isinstance(exc, ValueError):  # an address Django cannot encode, a header with a line break
        return PermanentError(f"Cannot send this mail: {exc}")
    return TransientError(f"{exc.__class__.__name__}: {exc}")


class _Session:
    def __init__(self) -> None:
        self.connection = None
        self.templates: dict[tuple[str, str, str], bytes] = {}

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
        try:
            connection = self._connection()
            if isinstance(connection, SMTPBackend) and connection.connection is not None:
                self._send_smtp(connection.connection, message, message_id)
            else:
                _mail(message, message_id, to=[message.target], connection=connection).send(
                    fail_silently=False
                )
        except Exception as exc:
            self.close()  # the session may be broken: the next mail opens a fresh one
            if isinstance(exc, (TransientError, PermanentError)):
                raise
            raise _classify(exc) from exc
        return message_id

    def _send_smtp(self, smtp: smtplib.SMTP, message, message_id: str) -> None:
        if any(c in message.target for c in "\r\n"):
            raise PermanentError("Cannot send this mail: the address contains a line break.")
        encoding = settings.DEFAULT_CHARSET
        recipient = sanitize_address(message.target, encoding)
        head = f"To: {recipient}\r\nMessage-ID: {message_id}\r\nX-Muster-Message: {message.uid}\r\n"
        body = self._template(message)
        smtp.sendmail(
            sanitize_address(settings.DEFAULT_FROM_EMAIL, encoding), [recipient], head.encode() + body
        )

    def _template(self, message) -> bytes:
        """The mail without its per-recipient headers, built once per distinct content in this session."""
        key = (message.subject, message.body, message.html)
        template = self.templates.get(key)
        if template is None:
            mime = _mail(message, "<template>", to=[]).message()
            del mime["Message-ID"]
            del mime["X-Muster-Message"]
            template = mime.as_bytes(linesep="\r\n")
            if len(self.templates) >= 16:
                self.templates.clear()
            self.templates[key] = template
        return template


def _mail(message, message_id: str, *, to: list[str], connection=None) -> EmailMultiAlternatives:
    mail = EmailMultiAlternatives(
        subject=message.subject or "Muster",
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": message_id, "X-Muster-Message": str(message.uid)},
        connection=connection,
    )
    if message.html:
        mail.attach_alternative(message.html, "text/html")
    return mail


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
        with contextlib.closing(_Session()) as session:
            yield session

    def check_destination(self, destination) -> None:
        from django.core.exceptions import ValidationError as DjangoValidationError
        from django.core.validators import EmailValidator

        from core.errors import ValidationError
        from notifications.services import parse_addresses

        addresses = parse_addresses(destination.email_addresses)
        if not addresses:
            raise ValidationError("Give at least one email address.", field="email_addresses")
        validate = EmailValidator()
        for address in addresses:
            try:
                validate(address)
            except DjangoValidationError:
                raise ValidationError(
                    f"'{address[:100]}' is not an email address.", field="email_addresses"
                ) from None

    def describe(self, destination) -> str:
        from notifications.services import parse_addresses

        addresses = parse_addresses(destination.email_addresses)
        if len(addresses) > 2:
            return f"{', '.join(addresses[:2])} and {len(addresses) - 2} more"
        return ", ".join(addresses)

    def route(self, destination, *, event, context, render):
        from notifications.services import parse_addresses

        email = render("email", html=True, subject=True)
        for address in parse_addresses(destination.email_addresses):
            yield {
                "kind": "email",
                "target": address,
                "subject": email.subject,
                "body": email.text,
                "html": email.html,
                "key": address.lower(),
            }
