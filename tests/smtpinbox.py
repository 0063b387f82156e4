"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping what it receives.

Used where mail is only received and read (operator notices, account emails); the alerts
tests have their own handler that can also refuse (tests/alerts/conftest.py).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import threading
from collections.abc import Iterator

from aiosmtpd.controller import Controller

from capitolscope.broker import free_port


class Inbox:
    """aiosmtpd handler: ``messages`` is a list of (recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [message["Subject"] for _rcpt, message in self.messages]

    def only_message_to(self, address: str) -> email.message.EmailMessage:
        assert [rcpt for rcpt, _ in self.messages] == [[address]]
        return self.messages[0][1]


@contextlib.contextmanager
def running_inbox(settings, inbox: Inbox | None = None, **overrides) -> Iterator[Inbox]:
    """Start an SMTP server receiving into ``inbox`` and point Django's SMTP backend at it
    (plus any ``overrides`` of settings) for the duration of the block."""
    inbox = inbox or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    for name, value in overrides.items():
        setattr(settings, name, value)
    try:
        yield inbox
    finally:
        controller.stop()
