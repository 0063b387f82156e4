"""Helpers for the operator alerting tests; their real servers (an SMTP inbox from
tests/smtpinbox.py and a webhook receiver from tests/httpserver.py) are fixtures in
conftest.py."""

import json

from monitoring.health import system_health


def memory_report(settings, *, failing: bool) -> dict:
    """A real health report of the memory check, failing or passing by its threshold."""
    settings.HEALTH_MEMORY_MAX_PERCENT = 0 if failing else 100
    return system_health(only=["memory"])


def backlog_report(subjects: list[str], *, conclusive: bool = True) -> dict:
    """A health report whose queue check finds a backlog in each of ``subjects`` (a check
    that could not judge, e.g. the broker did not answer, when not ``conclusive``)."""
    return {
        "status": "degraded",
        "components": {
            "queues": {
                "problems": [
                    {"kind": "queue_backlog", "subject": s, "status": "degraded", "message": s}
                    for s in subjects
                ],
                "conclusive": conclusive,
            }
        },
    }


def posts(hook) -> list[dict]:
    return [json.loads(request.body) for request in hook.requests_to("/hook")]
