"""``/api/`` lists the JSON API; ``/metrics/`` answers like ``/metrics``; both need a login."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.api_urls import urlpatterns
from monitoring.tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(staff_user):
    secret = api_token_create(user=staff_user, name="tests").secret
    return Client(headers={"authorization": f"Bearer {secret}"})


def test_the_api_root_lists_every_endpoint_with_what_it_does(api):
    response = api.get("/api/")
    assert response.status_code == 200
    listed = {entry["path"]: entry["does"] for entry in response.json()["endpoints"]}
    routes = {"/" + str(p.pattern) for p in urlpatterns if str(p.pattern).startswith("api/")}
    assert set(listed) == routes - {"/api/"}
    assert listed["/api/jobs/<str:name>/"].startswith("Validate the parameters")
    assert all(listed.values()), [path for path, does in listed.items() if not does]
    assert "Bearer" in response.json()["authentication"]


def test_the_api_root_needs_a_token_or_a_staff_session(client, plain_user):
    assert client.get("/api/").status_code == 401
    client.force_login(plain_user)
    assert client.get("/api/").status_code == 403


def test_metrics_answers_with_and_without_a_trailing_slash(api, client):
    assert reverse("monitoring_api:metrics") == "/metrics"
    for path in ("/metrics", "/metrics/"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/plain")
        assert client.get(path).status_code == 401
