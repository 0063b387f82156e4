"""System checks (``manage.py check``) for alert settings that are valid one by one but do not
fit together."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

# A webhook send takes at most: the name lookup, the connection (all addresses together) and
# the exchange (TLS, request, answer), each bounded by ALERTS_WEBHOOK_TIMEOUT.
WEBHOOK_SEND_TIMEOUTS = 3


@checks.register(checks.Tags.compatibility)
def check_delivery_time_limits(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    soft = settings.ALERTS_DELIVERY_SOFT_TIME_LIMIT
    longest = WEBHOOK_SEND_TIMEOUTS * settings.ALERTS_WEBHOOK_TIMEOUT
    if soft >= longest:
        return []
    return [
        checks.Warning(
            f"ALERTS_DELIVERY_SOFT_TIME_LIMIT ({soft} s) is shorter than the longest a slow "
            f"webhook send may take ({WEBHOOK_SEND_TIMEOUTS} x ALERTS_WEBHOOK_TIMEOUT = "
            f"{longest:g} s: name lookup, connection, answer).",
            hint=(
                "Such sends are cut by the task's time limit and retried until their retries "
                "run out. Lower ALERTS_WEBHOOK_TIMEOUT, or raise ALERTS_DELIVERY_LEASE (the time "
                "limits follow it) or ALERTS_DELIVERY_SOFT_TIME_LIMIT."
            ),
            id="alerts.W001",
        )
    ]
