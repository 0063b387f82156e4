from celery import shared_task

from monitoring.health import system_health


@shared_task(name="monitoring.system_health_check", soft_time_limit=60, time_limit=90)
def system_health_check() -> dict:
    """Check the database and the broker; the result (JSON) is kept in task history."""
    return system_health()
