"""Fixes from the alerts review, each on real parts: the subscription pages (Django's test
client), a real SMTP server (aiosmtpd), real HTTP(S) servers and real worker processes."""

from __future__ import annotations

import pytest

from alerts.models import Subscription

LIST = "/subscriptions/"
NEW = "/subscriptions/new/"
PUBLIC_HOOK = "https://93.184.215.14/hooks/capitolscope"  # a public IP literal: no DNS needed


# --- The show-once signing secret -------------------------------------------------------------


@pytest.mark.django_db
def test_a_head_request_to_the_list_leaves_the_new_secret_for_the_get_that_shows_it(
    client, plain_user
):
    client.force_login(plain_user)
    created = client.post(
        NEW,
        {"name": "Hook", "channel": "webhook", "target": PUBLIC_HOOK, "mode": "instant"},
    )
    assert created.status_code == 302 and created["Location"] == LIST
    secret = Subscription.objects.get(owner=plain_user).signing_secret

    head = client.head(LIST)  # a link checker or monitor probing the page
    assert head.status_code == 200 and head.content == b""

    shown = client.get(LIST)
    assert secret in shown.content.decode() and shown["Cache-Control"] == "no-store"
    assert secret not in client.get(LIST).content.decode()  # and only once
