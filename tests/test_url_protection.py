"""Every page except the health probe needs a login: walk the URL configuration."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"/health/", "/api/health/"}
# Pages that are the way in, or static content, and must stay reachable anonymously.
ENTRY_POINTS = {
    "/accounts/login/",
    "/admin/login/",
    "/admin/logout/",
    "/admin/password_reset/",
    # Self-service accounts (capitolscope/accounts.py): sign-up, its emailed confirmation link,
    # a new link, and the forgotten-password pages. Password change needs a login.
    "/accounts/signup/",
    "/accounts/signup/done/",
    "/accounts/confirm/resend/",
    "/accounts/confirm/x/",
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/1/1/",
    "/accounts/reset/done/",
}


def concrete_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    paths = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths += concrete_paths(pattern, route)
        elif isinstance(pattern, URLPattern):
            # Fill converters and regex groups with a plausible value.
            path = re.sub(r"<(?:int:)?\w+>", "1", route)
            path = re.sub(r"<path:\w+>", "x", path)
            path = re.sub(r"<\w+:\w+>", "x", path)
            path = re.sub(r"\(\?P<\w+>[^)]*\)", "1", path).replace("^", "").replace("$", "")
            paths.append("/" + path.replace("\\", ""))
    return sorted(set(paths))


@pytest.mark.django_db
def test_every_url_but_the_probe_refuses_anonymous_users(client):
    paths = concrete_paths(get_resolver())
    assert "/health/" in paths and "/admin/" in paths and "/metrics" in paths
    for path in paths:
        if path in PUBLIC or path in ENTRY_POINTS:
            continue
        response = client.get(path)
        if path.startswith("/api/") or path == "/metrics":
            # The API and /metrics answer an anonymous caller with 401 JSON, never a redirect.
            assert response.status_code == 401, f"{path} answered {response.status_code}"
            assert response["Content-Type"] == "application/json", path
            assert response.json()["error"]["code"] == "unauthorized", path
            assert response["WWW-Authenticate"].startswith("Bearer"), path
            continue
        assert response.status_code in {301, 302, 401, 403, 404, 405}, (
            f"{path} answered {response.status_code}"
        )
        if response.status_code in {301, 302}:
            assert "login" in response["Location"], f"{path} redirects to {response['Location']}"


@pytest.mark.django_db
def test_the_entry_points_answer_anonymous_users_without_sending_them_to_login(client):
    paths = concrete_paths(get_resolver())
    for path in sorted(ENTRY_POINTS - {"/admin/password_reset/"}):
        assert path in paths, f"{path} is listed as an entry point but no URL serves it"
        response = client.get(path)
        # An invalid confirmation link answers 400 with a page saying so; logout redirects.
        assert response.status_code in {200, 302, 400}, f"{path} answered {response.status_code}"
        if response.status_code == 302:
            assert path.endswith("/logout/"), f"{path} redirects to {response['Location']}"


@pytest.mark.django_db
def test_the_admin_refuses_a_logged_in_user_who_is_not_staff(client, plain_user):
    client.force_login(plain_user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.django_db
def test_every_api_url_refuses_a_logged_in_user_who_is_not_staff_with_403_json(client, plain_user):
    client.force_login(plain_user)
    paths = [
        path
        for path in concrete_paths(get_resolver())
        if (path.startswith("/api/") or path == "/metrics") and path not in PUBLIC
    ]
    assert "/api/jobs/" in paths
    for path in paths:
        response = client.get(path)
        assert response.status_code == 403, f"{path} answered {response.status_code}"
        assert response.json()["error"]["code"] == "forbidden", path


@pytest.mark.django_db
def test_a_user_who_is_not_staff_signs_in_and_lands_on_their_subscriptions(client, plain_user):
    page = client.get("/subscriptions/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    form = client.get(page["Location"])
    assert form.status_code == 200 and b'name="password"' in form.content

    response = client.post(
        "/accounts/login/",
        {"username": "paul", "password": "correct horse", "next": "/subscriptions/"},
    )
    assert response.status_code == 302 and response["Location"] == "/subscriptions/"
    assert client.get("/subscriptions/").status_code == 200
    assert client.get("/").url == "/subscriptions/"


@pytest.mark.django_db
def test_a_wrong_password_is_refused_with_a_message(client, plain_user):
    response = client.post("/accounts/login/", {"username": "paul", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


@pytest.mark.django_db
def test_staff_land_on_the_dashboard_and_log_out_with_a_post(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/").url == "/ops/"
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/ops/").status_code == 302
