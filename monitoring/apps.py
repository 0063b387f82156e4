from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        # Every process that loads Django (web, worker, beat) records the tasks it publishes.
        from monitoring import (
            beat_admin,  # noqa: F401 - crontab validation and next runs in the beat admin
            signals,  # noqa: F401
        )
