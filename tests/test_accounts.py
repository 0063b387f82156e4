"""Self-service accounts: sign-up confirmed by an emailed link, password reset and change.

The pages queue their emails on the real broker (``accounts.send_email``, after the commit,
so these tests use transactions); ``send_queued_emails()`` takes the messages off the queue
and runs them in this process, as a worker would, under the test's settings and clock. Mail
goes through Django's SMTP backend to a real SMTP server (aiosmtpd); the tests follow the
links they find in the received messages. tests/test_accounts_email.py runs the emails on a
real worker.
"""

from __future__ import annotations

import datetime as dt
import email
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import signing
from django.test import Client

from capitolscope.account_tasks import send_email
from capitolscope.accounts import (
    UNCONFIRMED_GROUP,
    SignUpForm,
    account_signup,
    confirmation_token_make,
    signup_mark,
)
from capitolscope.celery import app as celery_app
from capitolscope.locks import redis_client
from monitoring.maintenance import daily_maintenance
from tests import smtpinbox

# Transactions, so the pages' on-commit hooks run and queue the emails as in production.
pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = "/accounts/signup/"
RESEND = "/accounts/confirm/resend/"
LOGIN = "/accounts/login/"
RESET = "/accounts/password_reset/"
CHANGE = "/accounts/password_change/"
SITE_URL = "https://capitolscope.example"
PASSWORD = "a quiet river at dawn"
CHOSEN = "the owner's own password"  # what the confirmer sets on the confirmation page
CONFIRM_DATA = {"new_password1": CHOSEN, "new_password2": CHOSEN}
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class Inbox(smtpinbox.Inbox):
    def link_in(self, message: email.message.EmailMessage) -> str:
        """The path of the one SITE_URL link in a message's plain text."""
        body = message.get_body(("plain",)).get_content()
        links = re.findall(re.escape(SITE_URL) + r"/\S+", body)
        assert len(links) == 1, body
        return urlsplit(links[0]).path


def email_rate_limits_clear() -> None:
    """The account email rate limits count in Redis, which outlives each test's database."""
    client = redis_client()
    for key in client.scan_iter("capitolscope:api:rate:accounts.email*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_email_rate_limits():
    email_rate_limits_clear()


@pytest.fixture(autouse=True)
def _empty_queues():
    """Messages another test left on the broker must not be sent in this one."""
    celery_app.control.purge()


def queued_tasks() -> list[tuple[str, list, dict]]:
    """Take every message waiting in the ``default`` queue (where ``accounts.send_email`` is
    routed) off the real broker: (task name, args, kwargs) each, as JSON decoded them."""
    taken = []
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get("default", no_ack=True)) is not None:
            args, kwargs, _embed = message.decode()
            taken.append((message.headers["task"], args, kwargs))
    return taken


def send_queued_emails() -> int:
    """Run the queued account emails in this process, as a worker would; how many ran."""
    tasks = queued_tasks()
    for name, args, kwargs in tasks:
        assert name == send_email.name, name
        send_email(*args, **kwargs)
    return len(tasks)


@pytest.fixture
def smtp(settings):
    with smtpinbox.running_inbox(settings, Inbox(), SITE_URL=SITE_URL) as inbox:
        yield inbox


@pytest.fixture
def mailbox(settings):
    """Django's in-memory outbox, for checks that are not about delivery."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = SITE_URL
    from django.core import mail

    return mail.outbox


def csrf_token(page) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)[1].decode()


def submit(client: Client, url: str, data: dict):
    """GET the form, then POST it with its CSRF token, as a browser does."""
    page = client.get(url)
    assert page.status_code == 200, f"{url} answered {page.status_code}"
    return client.post(url, {**data, "csrfmiddlewaretoken": csrf_token(page)})


def signup_data(**overrides) -> dict:
    return {"username": "rita", "email": "rita@example.org", **overrides}


def confirm_path(user) -> str:
    return f"/accounts/confirm/{confirmation_token_make(user=user)}/"


def new_inactive_user(username="rita", email="rita@example.org", *, signup=True, **fields):
    """An inactive account: a self-service sign-up (marked) unless ``signup=False`` (one an
    operator created inactive)."""
    user = get_user_model().objects.create_user(
        username=username, email=email, password=PASSWORD, is_active=False, **fields
    )
    if signup:
        signup_mark(user=user)
    return user


def is_marked(user) -> bool:
    return user.groups.filter(name=UNCONFIRMED_GROUP).exists()


# --- Sign-up and confirmation -------------------------------------------------------------


def test_a_visitor_signs_up_confirms_by_email_over_smtp_and_reaches_their_subscriptions(smtp):
    browser = Client(enforce_csrf_checks=True)
    response = submit(browser, SIGNUP, signup_data())
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/done/"
    done = browser.get(response["Location"])
    assert b"rita@example.org" in done.content and b"within 3 days" in done.content

    rita = get_user_model().objects.get(username="rita")
    assert not rita.is_active and not rita.is_staff and not rita.is_superuser
    assert browser.get("/subscriptions/").status_code == 302  # not signed in yet

    assert send_queued_emails() == 1
    message = smtp.only_message_to("rita@example.org")
    assert message["Subject"] == "Confirm your CapitolScope account"
    link = smtp.link_in(message)
    assert link.startswith("/accounts/confirm/")
    payload = signing.b64_decode(link.split("/")[3].split(":")[0].encode())
    assert b"rita@example.org" not in payload  # links end up in access logs

    page = browser.get(link)
    assert page.status_code == 200 and b"Confirm and sign in" in page.content
    assert b'name="new_password1"' in page.content and b'name="new_password2"' in page.content
    rita.refresh_from_db()
    assert not rita.is_active  # opening the link (e.g. a mail scanner) activates nothing
    assert is_marked(rita)

    response = browser.post(link, {**CONFIRM_DATA, "csrfmiddlewaretoken": csrf_token(page)})
    assert response.status_code == 302 and response["Location"] == "/subscriptions/"
    rita.refresh_from_db()
    assert rita.is_active and not rita.is_staff and not is_marked(rita)
    subscriptions = browser.get("/subscriptions/")
    assert subscriptions.status_code == 200 and b"rita" in subscriptions.content

    # The link worked once; the password set on confirming works from now on.
    again = browser.get(link)
    assert again.status_code == 400 and b"already been used" in again.content
    browser.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf_token(subscriptions)})
    assert browser.get("/subscriptions/").status_code == 302
    response = submit(browser, LOGIN, {"username": "rita", "password": CHOSEN})
    assert response.status_code == 302 and browser.get("/subscriptions/").status_code == 200


def test_a_form_posted_without_its_csrf_token_is_refused():
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(SIGNUP, signup_data()).status_code == 403
    assert browser.post(RESEND, {"email": "rita@example.org"}).status_code == 403
    assert browser.post(RESET, {"email": "rita@example.org"}).status_code == 403
    assert not get_user_model().objects.filter(username="rita").exists()


def test_nobody_signs_up_as_staff_or_superuser(client, mailbox):
    client.post(SIGNUP, signup_data(is_staff="on", is_superuser="on", is_active="on"))
    rita = get_user_model().objects.get(username="rita")
    assert (rita.is_staff, rita.is_superuser, rita.is_active) == (False, False, False)


def test_a_signed_in_user_opening_sign_up_goes_home(client, plain_user):
    client.force_login(plain_user)
    assert client.get(SIGNUP)["Location"] == "/"


def test_sign_up_refuses_an_email_address_already_used_whatever_its_case(client, plain_user):
    response = client.post(SIGNUP, signup_data(email="PAUL@Example.COM"))
    assert response.status_code == 200
    assert b"An account with this email address already exists" in response.content
    assert not get_user_model().objects.filter(username="rita").exists()


def test_sign_up_refuses_an_address_held_by_an_account_that_is_not_an_unconfirmed_sign_up(
    client, mailbox
):
    holders = [
        # an operator created it inactive
        new_inactive_user(username="op-made", email="Rita@example.org", signup=False),
        # a sign-up that was confirmed, then deactivated by an operator
        new_inactive_user(username="was-in", email="Rita@example.org", last_login=T0),
        # a sign-up that is marked but active (the mark was not removed)
        new_inactive_user(username="active", email="Rita@example.org"),
    ]
    get_user_model().objects.filter(username="active").update(is_active=True)
    for holder in holders:
        others = get_user_model().objects.exclude(pk=holder.pk)
        kept = list(others.values_list("pk", "email"))
        others.update(email="elsewhere@example.org")
        response = client.post(SIGNUP, signup_data(username="rita2", email="rita@EXAMPLE.org"))
        assert b"An account with this email address already exists" in response.content, holder
        assert get_user_model().objects.filter(pk=holder.pk).exists()
        assert not get_user_model().objects.filter(username="rita2").exists()
        for pk, address in kept:
            get_user_model().objects.filter(pk=pk).update(email=address)
    assert send_queued_emails() == 0 and mailbox == []


def test_a_squatted_address_goes_to_whoever_signs_up_with_it_and_confirms(client, smtp):
    """An attacker signs up with the victim's address and a password of their choosing; the
    victim's own sign-up replaces that account, and the attacker's password opens nothing."""
    attacker = Client()
    attacker.post(SIGNUP, signup_data(username="mallory", email="Rita@Example.org"))
    squatter = get_user_model().objects.get(username="mallory")
    send_queued_emails()
    squatters_link = smtp.link_in(smtp.only_message_to("Rita@example.org"))
    smtp.messages.clear()

    rita = Client()
    response = rita.post(SIGNUP, signup_data(email="rita@example.ORG"))
    assert response.status_code == 302, response.content
    assert not get_user_model().objects.filter(pk=squatter.pk).exists()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["rita"]
    # The link sent for the replaced account is dead.
    dead = rita.get(squatters_link)
    assert dead.status_code == 400 and b"link is not valid" in dead.content
    assert b"a newer sign-up with the same address replaced it" in dead.content

    send_queued_emails()
    link = smtp.link_in(smtp.only_message_to("rita@example.org"))  # domain lowercased
    assert rita.post(link, CONFIRM_DATA)["Location"] == "/subscriptions/"
    assert Client().login(username="rita", password=CHOSEN)
    assert not Client().login(username="mallory", password=PASSWORD)


def test_confirming_a_stranger_s_sign_up_sets_the_confirmer_s_password(client, mailbox):
    """The victim confirms the account the attacker made: the attacker never had a password
    (sign-up sets none), and the account gets the one its confirmer chooses."""
    Client().post(SIGNUP, signup_data(username="mallory"))
    send_queued_emails()
    link = urlsplit(re.search(r"https://\S+", mailbox[0].body)[0]).path
    assert "You choose the account's password when you confirm" in mailbox[0].body
    without_password = client.post(link)
    assert (
        without_password.status_code == 200
        and b"This field is required" in without_password.content
    )
    mismatched = client.post(link, {"new_password1": CHOSEN, "new_password2": CHOSEN + "!"})
    assert b"The two password fields" in mismatched.content
    weak = client.post(link, {"new_password1": "password", "new_password2": "password"})
    assert b"This password is too common" in weak.content
    mallory = get_user_model().objects.get(username="mallory")
    assert not mallory.is_active and not mallory.has_usable_password()

    assert client.post(link, CONFIRM_DATA)["Location"] == "/subscriptions/"
    mallory.refresh_from_db()
    assert mallory.is_active and mallory.check_password(CHOSEN)
    assert not Client().login(username="mallory", password=PASSWORD)


def test_only_self_service_sign_ups_are_confirmed_resent_a_link_or_told_to_confirm(client, mailbox):
    operator_made = new_inactive_user(username="op-made", email="op@example.org", signup=False)
    staff = new_inactive_user(username="staffer", email="staff@example.org", is_staff=True)
    boss = new_inactive_user(username="boss", email="boss@example.org", is_superuser=True)
    for user in (operator_made, staff, boss):
        page = client.post(confirm_path(user), CONFIRM_DATA)
        assert page.status_code == 400 and b"link is not valid" in page.content, user
        client.post(RESEND, {"email": user.email})
        response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
        assert b"not confirmed yet" not in response.content
        user.refresh_from_db()
        assert not user.is_active and user.check_password(PASSWORD)
    send_queued_emails()
    assert mailbox == []


def test_setting_the_password_of_an_unconfirmed_sign_up_kills_its_links(client):
    rita = new_inactive_user()
    path = confirm_path(rita)
    rita.set_password("an operator's choice")
    rita.save()
    page = client.post(path, CONFIRM_DATA)
    assert page.status_code == 400 and b"link is not valid" in page.content
    assert b"replaced by a newer one" not in page.content
    rita.refresh_from_db()
    assert not rita.is_active
    assert client.post(confirm_path(rita), CONFIRM_DATA)["Location"] == "/subscriptions/"


def test_an_address_or_username_taken_after_the_form_was_checked_is_refused_not_duplicated():
    form = SignUpForm(signup_data())
    assert form.is_valid()
    # An account that keeps its address (not an unconfirmed sign-up), made meanwhile.
    new_inactive_user(username="rita-first", email="RITA@example.org", signup=False)
    assert account_signup(form=form) is None
    assert "An account with this email address already exists" in str(form.errors["email"])

    form = SignUpForm(signup_data(email="rita.two@example.org"))
    assert form.is_valid()
    new_inactive_user(username="rita", email="other@example.org", signup=False)
    assert account_signup(form=form) is None
    assert "A user with that username already exists" in str(form.errors["username"])
    assert get_user_model().objects.count() == 2


def test_sign_up_applies_the_username_rules(client, plain_user):
    response = client.post(SIGNUP, signup_data(username="PAUL"))
    assert b"A user with that username already exists" in response.content
    response = client.post(SIGNUP, signup_data(username="no spaces please"))
    assert b"Enter a valid username" in response.content
    response = client.post(SIGNUP, signup_data(email="rita@"))
    assert b"Enter a valid email address" in response.content
    assert get_user_model().objects.count() == 1


def test_sign_up_asks_for_no_password_and_the_account_has_none_until_confirmed(client):
    page = client.get(SIGNUP)
    assert b'type="password"' not in page.content
    assert b"you choose your password when you follow it" in page.content
    assert client.post(SIGNUP, signup_data(password1=PASSWORD)).status_code == 302
    rita = get_user_model().objects.get(username="rita")
    assert not rita.has_usable_password() and not rita.is_active
    assert not rita.check_password(PASSWORD)  # a password posted anyway is not kept
    login = client.get(LOGIN)
    assert b"You choose your password from the link we emailed you" in login.content
    assert b'href="/accounts/confirm/resend/"' in login.content


def test_sign_up_closed_says_so_and_creates_nothing(client, settings):
    settings.ACCOUNTS_SIGNUP_OPEN = False
    page = client.get(SIGNUP)
    assert page.status_code == 404 and b"Sign-up is closed" in page.content
    assert client.post(SIGNUP, signup_data()).status_code == 404
    assert not get_user_model().objects.exists()
    login = client.get(LOGIN)
    assert b'href="/accounts/signup/"' not in login.content
    assert b'href="/accounts/password_reset/"' in login.content


def test_the_login_page_links_to_sign_up_and_to_password_reset(client):
    login = client.get(LOGIN)
    assert b'href="/accounts/signup/"' in login.content
    assert b'href="/accounts/password_reset/"' in login.content


def test_the_link_expires_after_accounts_confirm_max_age_days(client, mailbox, settings):
    with time_machine.travel(T0, tick=False) as traveller:
        client.post(SIGNUP, signup_data())
        send_queued_emails()
        link = urlsplit(re.search(r"https://\S+", mailbox[0].body)[0]).path
        traveller.move_to(T0 + dt.timedelta(days=3, minutes=1))
        page = client.get(link)
        assert page.status_code == 400 and b"has expired" in page.content
        assert b'href="/accounts/confirm/resend/"' in page.content
        assert client.post(link, CONFIRM_DATA).status_code == 400
        assert not get_user_model().objects.get(username="rita").is_active

        settings.ACCOUNTS_CONFIRM_MAX_AGE_DAYS = 4
        assert client.get(link).status_code == 200
        traveller.move_to(T0 + dt.timedelta(days=4, minutes=1))
        assert b"has expired" in client.get(link).content


def test_a_tampered_link_is_refused(client):
    rita = new_inactive_user()
    token = confirmation_token_make(user=rita)
    payload, timestamp, signature = token.split(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (
        f"{payload}:{timestamp}:{flipped}",
        f"{payload}x:{timestamp}:{signature}",
        "not-a-token",
    ):
        page = client.post(f"/accounts/confirm/{bad}/", CONFIRM_DATA)
        assert page.status_code == 400 and b"link is not valid" in page.content, bad
    rita.refresh_from_db()
    assert not rita.is_active


def test_a_link_for_a_changed_email_address_is_refused(client):
    rita = new_inactive_user()
    path = confirm_path(rita)
    rita.email = "someone.else@example.org"
    rita.save()
    assert b"link is not valid" in client.post(path, CONFIRM_DATA).content


def test_an_old_link_does_not_revive_an_account_an_operator_deactivated(client):
    rita = new_inactive_user()
    path = confirm_path(rita)
    client.post(path, CONFIRM_DATA)
    rita.refresh_from_db()
    assert rita.is_active and rita.last_login is not None
    rita.is_active = False  # an operator deactivates the account
    rita.save()
    signup_mark(user=rita)  # even if it were marked again
    fresh = Client()
    assert b"link is not valid" in fresh.post(path, CONFIRM_DATA).content
    rita.refresh_from_db()
    assert not rita.is_active


def test_resend_emails_a_new_working_link_only_to_an_unconfirmed_account(client, smtp, plain_user):
    new_inactive_user(email="rita@example.org")
    answers = [
        client.post(RESEND, {"email": address}).content
        for address in ("RITA@example.org", "nobody@example.org", "paul@example.com")
    ]
    # The same page for an unconfirmed, an unknown and a confirmed address.
    assert answers[0] == answers[1] == answers[2]
    assert b"If an account that is not confirmed yet uses that address" in answers[0]
    send_queued_emails()
    link = smtp.link_in(smtp.only_message_to("rita@example.org"))
    assert client.post(link, CONFIRM_DATA)["Location"] == "/subscriptions/"
    assert get_user_model().objects.get(username="rita").is_active


def test_a_new_confirmation_link_replaces_the_ones_sent_before(client, smtp):
    client.post(SIGNUP, signup_data())
    assert send_queued_emails() == 1
    first = smtp.link_in(smtp.only_message_to("rita@example.org"))
    smtp.messages.clear()
    assert client.post(RESEND, {"email": "rita@example.org"}).status_code == 200
    assert send_queued_emails() == 1
    second = smtp.link_in(smtp.only_message_to("rita@example.org"))
    assert second != first

    for old in (client.get(first), client.post(first, CONFIRM_DATA)):
        assert old.status_code == 400
        assert b"no longer valid" in old.content and b"replaced by a newer one" in old.content
        assert b'href="/accounts/confirm/resend/"' in old.content
    rita = get_user_model().objects.get(username="rita")
    assert not rita.is_active and not rita.has_usable_password()

    assert client.post(second, CONFIRM_DATA)["Location"] == "/subscriptions/"
    rita.refresh_from_db()
    assert rita.is_active and rita.check_password(CHOSEN)
    # Once confirmed, every link of the account says so.
    assert b"already been used" in Client().get(first).content


def test_a_link_sent_before_links_could_be_replaced_still_confirms(client):
    """Links made by the previous version carry no send digest ("j"): nothing can have
    replaced them, so they are not called replaced; they expire as they always did."""
    from django.core import signing

    from capitolscope import accounts

    rita = new_inactive_user()
    old_format = signing.dumps(
        {
            "u": rita.pk,
            "e": accounts._address_digest(rita.email),
            "p": accounts._password_digest(rita),
        },
        salt=accounts.CONFIRM_SALT,
    )
    assert accounts.confirmation_check(token=old_format) == (rita, None)
    assert client.post(f"/accounts/confirm/{old_format}/", CONFIRM_DATA).status_code == 302


def test_an_email_sent_after_a_newer_link_was_asked_for_carries_the_newer_link(client, smtp):
    """Both messages were still queued (a slow mail server) when the resend came: each is
    built when it is sent, so neither carries a dead link."""
    client.post(SIGNUP, signup_data())
    client.post(RESEND, {"email": "rita@example.org"})
    assert send_queued_emails() == 2
    links = {smtp.link_in(message) for _rcpt, message in smtp.messages}
    assert len(smtp.messages) == 2 and len(links) == 1
    assert client.post(links.pop(), CONFIRM_DATA)["Location"] == "/subscriptions/"


def test_an_unconfirmed_account_logging_in_is_told_to_confirm(client):
    new_inactive_user()
    response = client.post(LOGIN, {"username": "rita", "password": PASSWORD})
    assert response.status_code == 200 and b"not confirmed yet" in response.content
    response = client.post(LOGIN, {"username": "rita", "password": "wrong guess"})
    assert b"didn't match" in response.content and b"not confirmed" not in response.content


def test_daily_maintenance_deletes_unconfirmed_sign_ups_once_their_links_have_expired(
    client, mailbox
):
    with time_machine.travel(T0, tick=False) as traveller:
        old = new_inactive_user(username="old", email="old@example.org")
        resent = new_inactive_user(username="resent", email="resent@example.org")
        kept = [
            new_inactive_user(username="op-made", email="op@example.org", signup=False),
            new_inactive_user(username="was-in", email="in@example.org", last_login=T0),
            new_inactive_user(username="staffer", email="staff@example.org", is_staff=True),
        ]
        traveller.move_to(T0 + dt.timedelta(days=2))
        client.post(RESEND, {"email": "resent@example.org"})  # restarts its count
        send_queued_emails()
        resent_link = urlsplit(re.search(r"https://\S+", mailbox[-1].body)[0]).path
        young = new_inactive_user(username="young", email="young@example.org")

        traveller.move_to(T0 + dt.timedelta(days=3, minutes=1))
        report = daily_maintenance()
        assert report["unconfirmed_signups_deleted"] == 1
        remaining = set(get_user_model().objects.values_list("pk", flat=True))
        assert old.pk not in remaining
        assert {resent.pk, young.pk, *(user.pk for user in kept)} <= remaining
        # The resent link still works: its account was not purged under it.
        assert client.get(resent_link).status_code == 200

        traveller.move_to(T0 + dt.timedelta(days=6))
        assert daily_maintenance()["unconfirmed_signups_deleted"] == 2  # resent, young
        assert set(get_user_model().objects.values_list("username", flat=True)) == {
            "op-made",
            "was-in",
            "staffer",
        }


# --- Password reset and change ------------------------------------------------------------


def test_a_forgotten_password_is_reset_by_a_link_received_over_smtp(smtp, plain_user):
    browser = Client(enforce_csrf_checks=True)
    response = submit(browser, RESET, {"email": "Paul@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert b"Check your email" in browser.get(response["Location"]).content

    assert send_queued_emails() == 1
    message = smtp.only_message_to("paul@example.com")
    assert message["Subject"] == "Reset your CapitolScope password"
    link = smtp.link_in(message)
    assert link.startswith("/accounts/reset/")

    form_page = browser.get(link, follow=True)  # Django moves the token into the session
    assert form_page.status_code == 200 and b"Choose a new password" in form_page.content
    set_password_url = form_page.redirect_chain[-1][0]
    response = browser.post(
        set_password_url,
        {
            "new_password1": "another quiet river",
            "new_password2": "another quiet river",
            "csrfmiddlewaretoken": csrf_token(form_page),
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/reset/done/"

    assert Client().login(username="paul", password="another quiet river")
    assert not Client().login(username="paul", password="correct horse")
    used = Client().get(link, follow=True)
    assert b"This password reset link is not valid" in used.content


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, smtp, plain_user):
    unknown = client.post(RESET, {"email": "nobody@example.org"}, follow=True)
    known = client.post(RESET, {"email": "paul@example.com"}, follow=True)
    assert unknown.content == known.content
    send_queued_emails()
    assert [rcpt for rcpt, _ in smtp.messages] == [["paul@example.com"]]


def test_a_signed_in_user_changes_their_password(client, plain_user):
    assert client.get(CHANGE)["Location"].startswith("/accounts/login/")
    client.force_login(plain_user)
    page = client.get("/subscriptions/")
    assert b'href="/accounts/password_change/"' in page.content

    wrong = client.post(
        CHANGE,
        {"old_password": "nope", "new_password1": "x" * 3, "new_password2": "x" * 3},
    )
    assert b"Your old password was entered incorrectly" in wrong.content
    response = client.post(
        CHANGE,
        {
            "old_password": "correct horse",
            "new_password1": "a brand new battery",
            "new_password2": "a brand new battery",
        },
    )
    assert response["Location"] == "/accounts/password_change/done/"
    assert client.get("/subscriptions/").status_code == 200  # still signed in here
    assert Client().login(username="paul", password="a brand new battery")


# --- Which pages are public -------------------------------------------------------------


@pytest.mark.parametrize(
    "path, status",
    [
        (SIGNUP, 200),
        ("/accounts/signup/done/", 200),
        (RESEND, 200),
        ("/accounts/confirm/not-a-token/", 400),
        (RESET, 200),
        ("/accounts/password_reset/done/", 200),
        ("/accounts/reset/MQ/not-a-token/", 200),
        ("/accounts/reset/done/", 200),
    ],
)
def test_the_way_in_is_open_to_anonymous_visitors(client, path, status):
    page = client.get(path)
    assert page.status_code == status
    assert b"<title>" in page.content and b"CapitolScope" in page.content


@pytest.mark.parametrize("path", [CHANGE, "/accounts/password_change/done/"])
def test_password_change_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
