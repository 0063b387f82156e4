"""Account emails are sent by a worker (``accounts.send_email``), never by the web request.

What the pages queue (the account's id and the kind of email: no link, token or address), when
(after the commit), what the task does with the mail server's answers (run here, as a worker
would), and the whole way on a real worker against the real broker and a real SMTP server.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django_celery_results.models import TaskResult

from capitolscope.account_tasks import AccountEmailNotSent, send_email
from capitolscope.accounts import AccountEmail, account_email_enqueue, confirmation_token_make
from capitolscope.broker import free_port
from capitolscope.celery import app as celery_app
from tests.alerts.conftest import RecordingSMTPHandler, alerts_worker_env
from tests.processes import start_worker, subprocess_env, wait_until
from tests.test_accounts import (
    CONFIRM_DATA,
    RESET,
    SIGNUP,
    SITE_URL,
    csrf_token,
    email_rate_limits_clear,
    new_inactive_user,
    queued_tasks,
    signup_data,
    submit,
)

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIRMATION = AccountEmail.CONFIRMATION.value
PASSWORD_RESET = AccountEmail.PASSWORD_RESET.value


@pytest.fixture(autouse=True)
def _fresh_broker_state():
    """No message or rate-limit count another test (or run) left in Redis."""
    celery_app.control.purge()
    email_rate_limits_clear()


def smtp_controller(handler: RecordingSMTPHandler, port: int | None = None) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller


@pytest.fixture
def smtp(settings):
    """A real SMTP server that can refuse (``smtp.fail(...)``), used by this process."""
    handler = RecordingSMTPHandler()
    controller = smtp_controller(handler)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = SITE_URL
    try:
        yield handler
    finally:
        controller.stop()


def link_in(message) -> str:
    body = message.get_body(("plain",)).get_content()
    link = next(word for word in body.split() if word.startswith(SITE_URL + "/"))
    return link.removeprefix(SITE_URL)


# --- What is queued, and when -------------------------------------------------------------


def test_the_pages_queue_the_account_id_and_the_kind_of_email_only(client, plain_user):
    assert client.post(SIGNUP, signup_data()).status_code == 302
    rita = get_user_model().objects.get(username="rita")
    assert queued_tasks() == [("accounts.send_email", [rita.pk, CONFIRMATION], {})]

    assert client.post(RESET, {"email": "PAUL@example.com"}).status_code == 302
    assert queued_tasks() == [("accounts.send_email", [plain_user.pk, PASSWORD_RESET], {})]
    assert client.post(RESET, {"email": "nobody@example.org"}).status_code == 302
    assert queued_tasks() == []

    # The task history (monitoring.signals records each published task) holds no address,
    # link or token either.
    history = TaskResult.objects.filter(task_name="accounts.send_email")
    assert history.count() == 2
    for row in history:
        stored = f"{row.task_args} {row.task_kwargs}"
        assert "@" not in stored and "example" not in stored and "/" not in stored, stored


def test_an_email_is_queued_only_once_its_transaction_commits(plain_user):
    with transaction.atomic():
        account_email_enqueue(user_id=plain_user.pk, kind=AccountEmail.PASSWORD_RESET)
        assert queued_tasks() == []
    assert queued_tasks() == [("accounts.send_email", [plain_user.pk, PASSWORD_RESET], {})]

    with pytest.raises(RuntimeError), transaction.atomic():
        account_email_enqueue(user_id=plain_user.pk, kind=AccountEmail.PASSWORD_RESET)
        raise RuntimeError("rolled back")
    assert queued_tasks() == []


def test_a_worker_registers_the_task_and_it_goes_to_the_default_queue():
    """capitolscope is not an installed app: autodiscovery alone would not register the task,
    and a worker would drop its messages as unregistered."""
    program = (
        "from capitolscope.celery import app\n"
        "app.loader.import_default_modules()\n"
        "print('accounts.send_email' in app.tasks)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=BASE_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True", result.stdout
    assert celery_app.amqp.router.route({}, "accounts.send_email")["queue"].name == "default"


# --- The task and the mail server's answers (run here, as a worker would) -----------------


def test_a_temporary_refusal_is_retried_and_the_next_try_sends_it(smtp, caplog):
    rita = new_inactive_user()
    smtp.fail("DATA", "451 4.3.0 greylisted, try again later")
    with (
        caplog.at_level(logging.WARNING, logger="capitolscope.account_tasks"),
        pytest.raises(Retry),
    ):
        send_email(rita.pk, CONFIRMATION)
    assert smtp.messages == []
    assert "failed (attempt 1, retry in" in caplog.text and "451 4.3.0 greylisted" in caplog.text

    assert send_email(rita.pk, CONFIRMATION) == {
        "user": rita.pk,
        "kind": CONFIRMATION,
        "status": "sent",
    }
    [message] = smtp.messages
    assert message["To"] == "rita@example.org"
    # An account email of its own: plain text, no alert-delivery headers.
    assert message["Message-ID"].startswith("<account-confirmation-")
    assert message["X-CapitolScope-Delivery"] is None
    assert message.get_content_type() == "text/plain"
    assert Client().post(link_in(message), CONFIRM_DATA)["Location"] == "/subscriptions/"


def test_a_refusal_caused_by_our_mail_settings_is_retried_not_blamed_on_the_address(smtp, caplog):
    rita = new_inactive_user()
    smtp.fail("RCPT", "554 5.7.1 <rita@example.org>: Relay access denied")
    with caplog.at_level(logging.ERROR, logger="alerts.channels"), pytest.raises(Retry):
        send_email(rita.pk, CONFIRMATION)
    assert f"the confirmation email to user {rita.pk}: " in caplog.text
    assert "check the mail settings" in caplog.text and "delivery" not in caplog.text


def test_a_permanent_refusal_ends_the_task_at_once_with_the_reason_logged(smtp, caplog):
    rita = new_inactive_user()
    smtp.fail("RCPT", "550 5.1.1 <rita@example.org>: no such user here", times=5)
    with caplog.at_level(logging.WARNING, logger="capitolscope.account_tasks"):
        result = send_email(rita.pk, CONFIRMATION)
    assert result["status"] == "failed"
    assert result["error"].startswith("permanent failure: the mail server refused the recipient")
    assert "550 5.1.1" in result["error"]
    assert f"the confirmation email to user {rita.pk} was refused for good" in caplog.text
    assert "no such user here" in caplog.text
    # The server named the address; the task's result (kept in the history) and log do not.
    assert "<<address>>: no such user here" in result["error"]
    assert "rita@example.org" not in result["error"] + caplog.text
    assert smtp.faults[0][2] == 4  # one try only
    assert smtp.messages == []


def test_a_temporary_failure_that_outlasts_the_retries_fails_the_task(smtp, settings, caplog):
    """The task fails (a dead letter an operator can retry once the mail server is back)."""
    settings.ALERTS_DELIVERY_MAX_RETRIES = 0
    rita = new_inactive_user()
    smtp.fail("RCPT", "450 4.2.0 <rita@example.org>: greylisted, try again later")
    with (
        caplog.at_level(logging.ERROR, logger="capitolscope.account_tasks"),
        pytest.raises(
            AccountEmailNotSent, match=r"gave up after 1 attempts.*450 4\.2\.0"
        ) as gave_up,
    ):
        send_email(rita.pk, CONFIRMATION)
    # The exception becomes the dead letter and the history's traceback: no address in it.
    assert "rita@example.org" not in str(gave_up.value) + caplog.text
    assert f"the confirmation email to user {rita.pk} was not sent after 1 attempts" in (
        caplog.text
    )


def test_an_account_that_no_longer_qualifies_is_sent_nothing(smtp, plain_user):
    rita = new_inactive_user()
    token = confirmation_token_make(user=rita)
    Client().post(f"/accounts/confirm/{token}/", CONFIRM_DATA)  # confirmed meanwhile
    plain_user.is_active = False  # an operator deactivated paul after he asked for a reset
    plain_user.save()
    for user_id, kind in (
        (rita.pk, CONFIRMATION),
        (plain_user.pk, PASSWORD_RESET),
        (987654, CONFIRMATION),  # deleted (replaced or purged)
        (987654, PASSWORD_RESET),
    ):
        assert send_email(user_id, kind)["status"] == "skipped", (user_id, kind)
    assert smtp.messages == []


# --- The whole way: a real worker, the real broker, a real SMTP server --------------------


@pytest.fixture
def mail_worker(transactional_db, tmp_path, settings):
    """``start(smtp_port, **env)`` starts a real worker whose email goes to ``smtp_port``, with
    fast retries. This process's own email settings point at a port nobody listens on: a
    page that sent mail itself would fail to."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    settings.SITE_URL = SITE_URL
    started = []

    def start(smtp_port: int, **extra: str):
        env = alerts_worker_env(smtp_port, **{"ALERTS_DELIVERY_MAX_RETRIES": "3", **extra})
        process, _hostname = start_worker(tmp_path, env=env)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()
        celery_app.control.purge()


def account_email_results() -> list[dict]:
    return [
        json.loads(row.result)
        for row in TaskResult.objects.filter(task_name="accounts.send_email", status="SUCCESS")
    ]


@pytest.mark.processes
def test_sign_up_then_confirm_with_the_email_sent_by_a_real_worker(mail_worker):
    handler = RecordingSMTPHandler()
    server = smtp_controller(handler)
    try:
        worker = mail_worker(server.port)
        handler.fail("DATA", "451 4.3.0 greylisted, try again later")  # the first try only
        browser = Client(enforce_csrf_checks=True)
        response = submit(browser, SIGNUP, signup_data())
        assert response["Location"] == "/accounts/signup/done/"
        done = browser.get(response["Location"])
        assert b"We are sending a confirmation link to" in done.content

        wait_until(
            lambda: handler.messages, timeout=60, what=f"the email\nworker:\n{worker.tail()}"
        )
        [message] = handler.messages
        assert message["To"] == "rita@example.org"
        assert message["Subject"] == "Confirm your CapitolScope account"
        assert "failed (attempt 1, retry in" in worker.output()
    finally:
        server.stop()

    link = link_in(message)
    page = browser.get(link)
    assert page.status_code == 200 and b"Confirm and sign in" in page.content
    response = browser.post(link, {**CONFIRM_DATA, "csrfmiddlewaretoken": csrf_token(page)})
    assert response["Location"] == "/subscriptions/"
    assert browser.get("/subscriptions/").status_code == 200
    rita = get_user_model().objects.get(username="rita")
    assert rita.is_active
    assert account_email_results() == [{"user": rita.pk, "kind": CONFIRMATION, "status": "sent"}]


@pytest.mark.processes
def test_a_password_reset_email_is_sent_by_a_real_worker(mail_worker, plain_user):
    handler = RecordingSMTPHandler()
    server = smtp_controller(handler)
    try:
        worker = mail_worker(server.port)
        assert Client().post(RESET, {"email": "paul@example.com"}).status_code == 302
        wait_until(
            lambda: handler.messages, timeout=60, what=f"the email\nworker:\n{worker.tail()}"
        )
    finally:
        server.stop()
    [message] = handler.messages
    assert message["To"] == "paul@example.com"
    assert message["Subject"] == "Reset your CapitolScope password"
    browser = Client()
    form_page = browser.get(link_in(message), follow=True)
    assert b"Choose a new password" in form_page.content
    new = "another quiet river"
    response = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert response["Location"] == "/accounts/reset/done/"
    assert Client().login(username="paul", password=new)


@pytest.mark.processes
def test_a_permanent_refusal_is_not_retried_by_the_worker_and_its_reason_is_logged(mail_worker):
    handler = RecordingSMTPHandler()
    server = smtp_controller(handler)
    try:
        worker = mail_worker(server.port)
        handler.fail("RCPT", "550 5.1.1 <rita@example.org>: no such user here", times=5)
        assert Client().post(SIGNUP, signup_data()).status_code == 302
        wait_until(
            account_email_results, timeout=60, what=f"the task's end\nworker:\n{worker.tail()}"
        )
    finally:
        server.stop()
    [result] = account_email_results()
    assert result["status"] == "failed" and "550 5.1.1" in result["error"]
    assert "was refused for good" in worker.output() and "no such user here" in worker.output()
    assert "retry in" not in worker.output()
    assert handler.faults[0][2] == 4  # one try only
    assert handler.messages == []


@pytest.mark.processes
def test_a_sign_up_while_the_mail_server_is_down_gets_its_email_once_it_is_back(mail_worker):
    port = free_port()  # nothing listens there yet
    worker = mail_worker(port, ALERTS_DELIVERY_MAX_RETRIES="60")
    browser = Client()
    assert browser.post(SIGNUP, signup_data()).status_code == 302
    assert b"We are sending" in browser.get("/accounts/signup/done/").content
    wait_until(
        lambda: "could not reach the mail server" in worker.output(),
        timeout=60,
        what=f"a failed try\nworker:\n{worker.tail()}",
    )
    handler = RecordingSMTPHandler()
    server = smtp_controller(handler, port)
    try:
        wait_until(
            lambda: handler.messages, timeout=60, what=f"the email\nworker:\n{worker.tail()}"
        )
    finally:
        server.stop()
    [message] = handler.messages
    assert Client().post(link_in(message), CONFIRM_DATA)["Location"] == "/subscriptions/"
