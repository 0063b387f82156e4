"""Operator alerting test doubles that are real servers: an SMTP inbox (aiosmtpd) and a
webhook receiver (tests/httpserver.py); the fixtures are in conftest.py."""

import email
import email.policy
import json
import threading

from monitoring.health import system_health


class Inbox:
    def __init__(self) -> None:
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [message["Subject"] for _rcpt, message in self.messages]


def memory_report(settings, *, failing: bool) -> dict:
    """A real health report of the memory check, failing or passing by its threshold."""
    settings.HEALTH_MEMORY_MAX_PERCENT = 0 if failing else 100
    return system_health(only=["memory"])


def posts(hook) -> list[dict]:
    return [json.loads(request.body) for request in hook.requests_to("/hook")]
