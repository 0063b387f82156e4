"""Account emails (sign-up confirmation, resend, password reset), sent by a worker.

``accounts.send_email`` is routed to the ``default`` queue (no route names it), away from a
backlog of alert deliveries on ``notifications``. It is registered in every worker through
``CELERY_IMPORTS`` (capitolscope is not an installed app, so autodiscovery does not see it).

Arguments are the account's id and the kind of email, nothing else: arguments are kept in the
task history, so no token, link or address goes in them. The service builds the email from
the database when it sends (capitolscope/accounts.py). A temporary SMTP failure is retried
with the alerts' exponential backoff and jitter, at most ``ALERTS_DELIVERY_MAX_RETRIES``
times, after which the task fails (a dead letter an operator can retry once the mail server is
back); a permanent refusal (the server refuses the recipient) is logged and ends the task with
``status: failed`` at once, since sending again cannot help.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from alerts.channels import DeliveryError
from alerts.services import delivery_backoff
from capitolscope import accounts

logger = logging.getLogger(__name__)


class AccountEmailNotSent(Exception):
    """A temporary failure that outlasted every retry."""


@shared_task(
    name="accounts.send_email",
    bind=True,
    max_retries=None,  # counted below against ALERTS_DELIVERY_MAX_RETRIES
    soft_time_limit=60,
    time_limit=90,
)
def send_email(self, user_id: int, kind: str) -> dict:
    """Send email ``kind`` (``accounts.AccountEmail``) to account ``user_id``."""
    result = {"user": int(user_id), "kind": kind}
    try:
        sent = accounts.account_email_send(
            user_id=int(user_id), kind=kind, message_key=self.request.id or ""
        )
    except SoftTimeLimitExceeded:
        error = DeliveryError("the mail server did not finish within the task's time limit")
    except DeliveryError as exc:
        error = exc
    else:
        return {**result, "status": "sent" if sent else "skipped"}

    attempts = self.request.retries + 1
    if error.permanent:
        logger.warning(
            "the %s email to user %s was refused for good: %s", kind, user_id, error.message
        )
        return {**result, "status": "failed", "error": f"permanent failure: {error.message}"}
    if attempts > settings.ALERTS_DELIVERY_MAX_RETRIES:
        logger.error(
            "the %s email to user %s was not sent after %d attempts: %s",
            kind,
            user_id,
            attempts,
            error.message,
        )
        raise AccountEmailNotSent(
            f"gave up after {attempts} attempts; last error: {error.message}"
        ) from None
    delay = delivery_backoff(attempts=attempts, retry_after=error.retry_after)
    logger.warning(
        "the %s email to user %s failed (attempt %d, retry in %.1f s): %s",
        kind,
        user_id,
        attempts,
        delay,
        error.message,
    )
    raise self.retry(countdown=delay)
