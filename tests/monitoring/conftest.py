import pytest
from aiosmtpd.controller import Controller

from capitolscope.broker import free_port
from tests.httpserver import LocalHTTPServer, Reply
from tests.monitoring._alerting import Inbox


@pytest.fixture
def smtp(settings):
    """A real SMTP server the operator notices go to."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.OPS_ALERT_EMAILS = ["ops@example.com", "oncall@example.com"]
    yield inbox
    controller.stop()


@pytest.fixture
def hook(settings):
    """A real HTTP receiver for the operator webhook, answering 200 at /hook."""
    server = LocalHTTPServer().start()
    server.route("POST", "/hook", Reply(200, "ok"))
    settings.OPS_ALERT_WEBHOOK_URL = f"{server.url}/hook"
    yield server
    server.stop()
