"""The API token admin: the token is shown once at creation, listed by prefix, revocable."""

from __future__ import annotations

import re

import pytest
from django.test import Client

import monitoring.api_admin  # noqa: F401 - registers the admin (monitoring/admin.py imports it too)
from monitoring.models import ApiToken
from monitoring.tokens import api_token_create, token_hash

pytestmark = pytest.mark.django_db

TOKEN_RE = re.compile(r"cs_[0-9a-f]{10}_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser(
        username="ada", email="ada@example.com", password="correct horse"
    )
    client.force_login(admin)
    client.admin = admin
    return client


def test_creating_a_token_in_the_admin_shows_it_once_and_stores_its_hash(admin_client, staff_user):
    response = admin_client.post(
        "/admin/monitoring/apitoken/add/", {"name": "prometheus", "user": staff_user.pk}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [secret] = TOKEN_RE.findall(response.content.decode())
    row = ApiToken.objects.get()
    assert row.name == "prometheus" and row.user == staff_user
    assert row.key_hash == token_hash(secret)
    # Never again: not in the list, not on the change page.
    listing = admin_client.get("/admin/monitoring/apitoken/").content.decode()
    assert row.prefix in listing and secret not in listing
    change = admin_client.get(f"/admin/monitoring/apitoken/{row.pk}/change/").content.decode()
    assert secret not in change and row.key_hash not in change
    # And it works.
    api = Client(headers={"authorization": f"Bearer {secret}"})
    assert api.get("/api/jobs/").status_code == 200


def test_the_admin_refuses_a_token_for_a_user_who_is_not_staff(admin_client, plain_user):
    response = admin_client.post(
        "/admin/monitoring/apitoken/add/", {"name": "x", "user": plain_user.pk}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_admin_refuses_an_expiry_in_the_past(admin_client, staff_user):
    response = admin_client.post(
        "/admin/monitoring/apitoken/add/",
        {"name": "x", "user": staff_user.pk, "expires_at_0": "2020-01-01", "expires_at_1": "00:00"},
    )
    assert "The expiry must be in the future." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_revoke_action_revokes_the_selected_tokens(admin_client, staff_user):
    first = api_token_create(user=staff_user, name="one")
    second = api_token_create(user=staff_user, name="two")
    response = admin_client.post(
        "/admin/monitoring/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [first.token.pk]},
        follow=True,
    )
    assert "Revoked 1 token(s)." in response.content.decode()
    first.token.refresh_from_db()
    second.token.refresh_from_db()
    assert first.token.revoked_at is not None and second.token.revoked_at is None
    refused = Client(headers={"authorization": f"Bearer {first.secret}"}).get("/api/jobs/")
    assert refused.status_code == 401
    listing = admin_client.get("/admin/monitoring/apitoken/").content.decode()
    assert "revoked" in listing and "active" in listing


def test_a_staff_member_who_may_only_view_tokens_cannot_revoke_them(client, staff_user):
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client.force_login(staff_user)
    token = api_token_create(user=staff_user, name="prometheus")
    assert client.get("/admin/monitoring/apitoken/").status_code == 200
    client.post(
        "/admin/monitoring/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.token.pk]},
        follow=True,
    )
    token.token.refresh_from_db()
    assert token.token.revoked_at is None
