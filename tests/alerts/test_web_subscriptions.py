"""The users' subscription pages: list, create, edit, pause/resume, delete, signing secrets."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from alerts import services
from alerts.models import Subscription
from ingestion.models import Politician

pytestmark = pytest.mark.django_db

LIST = "/subscriptions/"
NEW = "/subscriptions/new/"
PUBLIC_HOOK = "https://93.184.215.14/hooks/capitolscope"  # a public IP literal: no DNS needed


def edit_url(subscription) -> str:
    return f"/subscriptions/{subscription.pk}/edit/"


def pause_url(subscription) -> str:
    return f"/subscriptions/{subscription.pk}/pause/"


def secret_url(subscription) -> str:
    return f"/subscriptions/{subscription.pk}/secret/"


def delete_url(subscription) -> str:
    return f"/subscriptions/{subscription.pk}/delete/"


def make_politician(last, first, *, bioguide="", chamber="house", party="D", state="CA"):
    return Politician.objects.create(
        last_name=last,
        first_name=first,
        full_name=f"{first} {last}",
        chamber=chamber,
        party=party,
        state=state,
        bioguide_id=bioguide,
        is_resolved=bool(bioguide),
        name_key=f"{last}|{first}".lower(),
    )


@pytest.fixture
def pelosi():
    return make_politician("Pelosi", "Nancy", bioguide="P000197")


@pytest.fixture
def crenshaw():
    return make_politician("Crenshaw", "Dan", bioguide="C001120", party="R", state="TX")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(
        username="mallory", email="mallory@example.com", password="correct horse"
    )


@pytest.fixture
def paul(client, plain_user):
    client.force_login(plain_user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "name": "Tech buys",
        "politicians": "",
        "tickers": "",
        "min_amount": "",
        "channel": "email",
        "target": "",
        "mode": "instant",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def subscription_of(user, **fields) -> Subscription:
    fields.setdefault("name", "Everything")
    fields.setdefault("channel", "email")
    fields.setdefault("target", user.email)
    return services.subscription_create(owner=user, **fields)


def field_errors(response, field: str) -> list[str]:
    assert response.status_code == 200, response.status_code
    return list(response.context["form"].errors.get(field, []))


# --- Who may see what -------------------------------------------------------------------------


def test_every_subscription_page_sends_an_anonymous_visitor_to_the_login_page(client, plain_user):
    subscription = subscription_of(plain_user)
    for method, url in [
        ("get", LIST),
        ("get", NEW),
        ("post", NEW),
        ("get", edit_url(subscription)),
        ("post", edit_url(subscription)),
        ("post", pause_url(subscription)),
        ("post", secret_url(subscription)),
        ("get", delete_url(subscription)),
        ("post", delete_url(subscription)),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert "/accounts/login/" in response["Location"], (method, url)
    subscription.refresh_from_db()
    assert subscription.active


def test_the_list_shows_only_the_users_own_subscriptions(paul, plain_user, other_user):
    subscription_of(plain_user, name="Paul's alert")
    subscription_of(other_user, name="Mallory's alert")
    response = paul.get(LIST)
    assert response.status_code == 200
    assert [row["subscription"].name for row in response.context["rows"]] == ["Paul's alert"]
    assert "Paul&#x27;s alert" in response.content.decode()
    assert "Mallory" not in response.content.decode()


def test_another_users_subscription_is_not_found_on_every_page(paul, other_user):
    theirs = subscription_of(other_user, name="Mallory's alert")
    for method, url in [
        ("get", edit_url(theirs)),
        ("post", edit_url(theirs)),
        ("post", pause_url(theirs)),
        ("post", secret_url(theirs)),
        ("get", delete_url(theirs)),
        ("post", delete_url(theirs)),
    ]:
        response = getattr(paul, method)(url, form_data(name="Stolen"))
        assert response.status_code == 404, (method, url)
    theirs.refresh_from_db()
    assert theirs.name == "Mallory's alert" and theirs.active


def test_staff_get_no_special_access_to_other_users_subscriptions(client, staff_user, other_user):
    theirs = subscription_of(other_user)
    client.force_login(staff_user)
    assert client.get(edit_url(theirs)).status_code == 404
    assert client.post(delete_url(theirs)).status_code == 404
    assert client.get(LIST).context["rows"] == []
    assert Subscription.objects.filter(pk=theirs.pk).exists()


def test_pages_that_change_something_refuse_a_post_without_a_csrf_token(plain_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(plain_user)
    subscription = subscription_of(plain_user, name="Mine")
    for url in [NEW, edit_url(subscription), pause_url(subscription), delete_url(subscription)]:
        response = browser.post(url, form_data(name="Changed"))
        assert response.status_code == 403, url
    subscription.refresh_from_db()
    assert subscription.name == "Mine" and subscription.active
    assert Subscription.objects.filter(owner=plain_user).count() == 1

    # The same form with the token the page gave works.
    page = browser.get(NEW)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = browser.post(NEW, form_data(name="With token", csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert Subscription.objects.filter(owner=plain_user, name="With token").exists()


def test_pause_and_resume_only_answer_a_post(paul, plain_user):
    subscription = subscription_of(plain_user)
    assert paul.get(pause_url(subscription)).status_code == 405
    subscription.refresh_from_db()
    assert subscription.active


# --- Create -----------------------------------------------------------------------------------


def test_an_email_subscription_is_created_with_every_filter_stored(
    paul, plain_user, pelosi, crenshaw
):
    response = paul.post(
        NEW,
        form_data(
            name="  Big   tech buys ",
            politicians="Pelosi\nC001120",
            tickers="aapl, brk-b  msft,AAPL",
            chambers=["house"],
            parties=["D", "R"],
            transaction_types=["purchase", "sale_partial"],
            owners=["self", "spouse"],
            min_amount="50000",
            late_only="on",
            mode="digest",
        ),
    )
    assert response.status_code == 302 and response["Location"] == LIST
    subscription = Subscription.objects.get(owner=plain_user)
    assert subscription.name == "Big tech buys"
    assert set(subscription.politicians.all()) == {pelosi, crenshaw}
    assert subscription.has_politician_filter and subscription.has_ticker_filter
    assert subscription.ticker_values() == ["AAPL", "BRK.B", "MSFT"]
    assert subscription.chamber_values() == ["house"]
    assert sorted(subscription.party_values()) == ["D", "R"]
    assert subscription.transaction_type_values() == ["purchase", "sale_partial"]
    assert subscription.owner_values() == ["self", "spouse"]
    assert subscription.min_amount == 50000
    assert subscription.late_only is True
    assert subscription.channel == "email"
    assert subscription.target == "paul@example.com"  # empty target: the account's address
    assert subscription.mode == "digest"
    assert subscription.active
    assert subscription.signing_secret == ""

    page = paul.get(LIST).content.decode()
    assert "Trades by Dan Crenshaw or Nancy Pelosi · in AAPL, BRK.B or MSFT" in page
    assert (
        "· in the House · party Democrat or Republican · purchase or sale (partial) · "
        "owner self or spouse · at least $50,000 · filed late"
    ) in page
    assert "Daily digest" in page


def test_a_subscription_without_filters_means_every_trade(paul, plain_user):
    assert paul.post(NEW, form_data(target="alerts@paul.example")).status_code == 302
    subscription = Subscription.objects.get(owner=plain_user)
    assert subscription.target == "alerts@paul.example"
    assert not subscription.has_politician_filter and not subscription.has_ticker_filter
    assert (subscription.chambers, subscription.parties) == (0, 0)
    assert (subscription.transaction_types, subscription.owners) == (0, 0)
    assert subscription.min_amount is None and not subscription.late_only
    assert "Every trade" in paul.get(LIST).content.decode()


def test_a_webhook_subscription_shows_its_secret_once_and_masked_afterwards(paul, plain_user):
    response = paul.post(NEW, form_data(channel="webhook", target=PUBLIC_HOOK), follow=True)
    subscription = Subscription.objects.get(owner=plain_user)
    secret = subscription.signing_secret
    assert subscription.channel == "webhook" and subscription.target == PUBLIC_HOOK
    assert len(secret) >= 32
    first = response.content.decode()
    assert secret in first and "shown only this once" in first
    assert response["Cache-Control"] == "no-store"

    again = paul.get(LIST).content.decode()
    assert secret not in again
    assert f"••••••••{secret[-4:]}" in again
    assert secret not in paul.get(edit_url(subscription)).content.decode()


def test_a_new_secret_replaces_the_old_one_and_is_shown_once(paul, plain_user):
    subscription = subscription_of(plain_user, channel="webhook", target=PUBLIC_HOOK)
    old = subscription.signing_secret
    response = paul.post(secret_url(subscription), follow=True)
    subscription.refresh_from_db()
    assert subscription.signing_secret != old
    page = response.content.decode()
    assert subscription.signing_secret in page and old not in page
    assert subscription.signing_secret not in paul.get(LIST).content.decode()


def test_an_email_subscription_has_no_secret_to_regenerate(paul, plain_user):
    subscription = subscription_of(plain_user)
    response = paul.post(secret_url(subscription), follow=True)
    assert "has no signing secret" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.signing_secret == ""


def test_the_list_counts_each_subscriptions_notifications(paul, plain_user):
    subscription_of(plain_user)
    [row] = paul.get(LIST).context["rows"]
    assert row["notification_count"] == 0


# --- Edit, pause, delete ----------------------------------------------------------------------


def test_editing_changes_the_filters_and_keeps_what_was_not_changed(
    paul, plain_user, pelosi, crenshaw
):
    subscription = subscription_of(
        plain_user,
        name="Pelosi",
        politician_ids=[pelosi.pk],
        tickers=["NVDA"],
        chambers=["house"],
        min_amount=1000,
    )
    page = paul.get(edit_url(subscription))
    initial = page.context["form"].initial
    assert initial["politicians"] == "Nancy Pelosi (P000197)"
    assert initial["tickers"] == "NVDA"

    # The form as the page shows it, with two changes: the politician list read back.
    data = form_data(
        name="Pelosi and Crenshaw",
        politicians=initial["politicians"] + "\nDan Crenshaw",
        tickers="NVDA, AMD",
        chambers=initial["chambers"],
        min_amount="",
        target=initial["target"],
        mode="instant",
    )
    assert paul.post(edit_url(subscription), data).status_code == 302
    subscription.refresh_from_db()
    assert subscription.name == "Pelosi and Crenshaw"
    assert set(subscription.politicians.all()) == {pelosi, crenshaw}
    assert subscription.ticker_values() == ["AMD", "NVDA"]
    assert subscription.chamber_values() == ["house"]
    assert subscription.min_amount is None


def test_editing_an_email_subscription_into_a_webhook_shows_the_new_secret_once(paul, plain_user):
    subscription = subscription_of(plain_user)
    response = paul.post(
        edit_url(subscription), form_data(channel="webhook", target=PUBLIC_HOOK), follow=True
    )
    subscription.refresh_from_db()
    assert subscription.channel == "webhook" and subscription.signing_secret
    assert subscription.signing_secret in response.content.decode()


def test_pause_then_resume(paul, plain_user):
    subscription = subscription_of(plain_user)
    response = paul.post(pause_url(subscription), follow=True)
    subscription.refresh_from_db()
    assert not subscription.active
    assert "paused" in response.content.decode()
    paul.post(pause_url(subscription))
    subscription.refresh_from_db()
    assert subscription.active


def test_delete_asks_first_then_deletes(paul, plain_user):
    subscription = subscription_of(plain_user, name="Going away")
    confirm = paul.get(delete_url(subscription))
    assert confirm.status_code == 200
    assert "Delete “Going away”?" in confirm.content.decode()
    assert Subscription.objects.filter(pk=subscription.pk).exists()
    response = paul.post(delete_url(subscription))
    assert response.status_code == 302 and response["Location"] == LIST
    assert not Subscription.objects.filter(pk=subscription.pk).exists()
