from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import pre_delete

        from alerts import checks  # noqa: F401  (registers the system checks)
        from alerts.signals import user_pre_delete
        from ingestion.models import Trade
        from ingestion.services import trades_stored

        trades_stored.connect(
            enqueue_matching, sender=Trade, weak=False, dispatch_uid="alerts.enqueue_matching"
        )
        # A user's subscriptions are deleted under the matcher's lock, not by the cascade.
        pre_delete.connect(
            user_pre_delete,
            sender=settings.AUTH_USER_MODEL,
            weak=False,
            dispatch_uid="alerts.user_pre_delete",
        )


def enqueue_matching(sender=None, count: int = 0, **_kwargs) -> None:
    """``trades_stored`` receiver (sent after the ingestion transaction committed): match the
    new trades now, so an instant alert leaves seconds after the sync. A lost message is
    covered by the 30-minute sweep."""
    import logging

    from alerts.tasks import match_new_trades

    try:
        match_new_trades.delay()
    except Exception as exc:  # the trades are stored; never fail the ingestion for this
        logging.getLogger(__name__).warning(
            "could not enqueue alerts.match_new_trades (%s: %s); the sweep will match them",
            type(exc).__name__,
            exc,
        )
