import pytest

from tests.httpserver import LocalHTTPServer, Reply
from tests.smtpinbox import running_inbox


@pytest.fixture
def smtp(settings):
    """A real SMTP server the operator notices go to."""
    with running_inbox(
        settings, OPS_ALERT_EMAILS=["ops@example.com", "oncall@example.com"]
    ) as inbox:
        yield inbox


@pytest.fixture
def hook(settings):
    """A real HTTP receiver for the operator webhook, answering 200 at /hook."""
    server = LocalHTTPServer().start()
    server.route("POST", "/hook", Reply(200, "ok"))
    settings.OPS_ALERT_WEBHOOK_URL = f"{server.url}/hook"
    yield server
    server.stop()
