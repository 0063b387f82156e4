"""Receivers that keep other apps' deletes on the alerts locking path.

Notifications carry no database foreign-key check (see ``Notification.subscription``): a
subscription must be deleted through ``alerts.services.subscriptions_delete``, which locks it
first so a matching batch holding it commits its notifications before they are collected for
deletion. A deleted user takes their subscriptions along, so the user's delete goes that way too.
"""

from __future__ import annotations

from alerts import services


def user_pre_delete(sender, instance, **_kwargs) -> None:
    """``pre_delete`` of the user model (``Model.delete``, a queryset's delete, the admin):
    delete the user's subscriptions, with their notifications and deliveries, under the
    subscription lock, before Django's own cascade runs.

    ``pre_delete`` is sent inside the delete's transaction, after Django collected what to
    cascade but before any row is deleted; whatever it collected for these subscriptions is
    then already gone, and the rest of the cascade deletes nothing more of them.
    """
    from alerts.models import Subscription

    ids = Subscription.objects.filter(owner_id=instance.pk).values_list("pk", flat=True)
    services.subscriptions_delete(subscription_ids=ids)
