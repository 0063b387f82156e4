"""Self-service accounts: sign-up confirmed by an emailed link, password reset and change.

Mail goes through Django's SMTP backend to a real SMTP server (aiosmtpd); the tests follow
the links they find in the received messages.
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

from capitolscope.accounts import SignUpForm, account_signup, confirmation_token_make
from tests import smtpinbox

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
RESEND = "/accounts/confirm/resend/"
LOGIN = "/accounts/login/"
RESET = "/accounts/password_reset/"
CHANGE = "/accounts/password_change/"
SITE_URL = "https://capitolscope.example"
PASSWORD = "a quiet river at dawn"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


class Inbox(smtpinbox.Inbox):
    def link_in(self, message: email.message.EmailMessage) -> str:
        """The path of the one SITE_URL link in a message."""
        body = message.get_content()
        links = re.findall(re.escape(SITE_URL) + r"/\S+", body)
        assert len(links) == 1, body
        return urlsplit(links[0]).path


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
    return {
        "username": "rita",
        "email": "rita@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


def confirm_path(user) -> str:
    return f"/accounts/confirm/{confirmation_token_make(user=user)}/"


def new_inactive_user(username="rita", email="rita@example.org"):
    return get_user_model().objects.create_user(
        username=username, email=email, password=PASSWORD, is_active=False
    )


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

    message = smtp.only_message_to("rita@example.org")
    assert message["Subject"] == "Confirm your CapitolScope account"
    link = smtp.link_in(message)
    assert link.startswith("/accounts/confirm/")
    payload = signing.b64_decode(link.split("/")[3].split(":")[0].encode())
    assert b"rita@example.org" not in payload  # links end up in access logs

    page = browser.get(link)
    assert page.status_code == 200 and b"Confirm and sign in" in page.content
    rita.refresh_from_db()
    assert not rita.is_active  # opening the link (e.g. a mail scanner) activates nothing

    response = browser.post(link, {"csrfmiddlewaretoken": csrf_token(page)})
    assert response.status_code == 302 and response["Location"] == "/subscriptions/"
    rita.refresh_from_db()
    assert rita.is_active and not rita.is_staff
    subscriptions = browser.get("/subscriptions/")
    assert subscriptions.status_code == 200 and b"rita" in subscriptions.content

    # The link worked once; the password works from now on.
    again = browser.get(link)
    assert again.status_code == 400 and b"already been used" in again.content
    browser.post("/accounts/logout/", {"csrfmiddlewaretoken": csrf_token(subscriptions)})
    assert browser.get("/subscriptions/").status_code == 302
    response = submit(browser, LOGIN, {"username": "rita", "password": PASSWORD})
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


def test_sign_up_refuses_an_email_address_of_an_unconfirmed_account(client, mailbox):
    new_inactive_user(username="rita", email="Rita@example.org")
    response = client.post(SIGNUP, signup_data(username="rita2", email="rita@EXAMPLE.org"))
    assert b"An account with this email address already exists" in response.content
    assert get_user_model().objects.filter(email__iexact="rita@example.org").count() == 1


def test_an_address_or_username_taken_after_the_form_was_checked_is_refused_not_duplicated():
    form = SignUpForm(signup_data())
    assert form.is_valid()
    new_inactive_user(username="rita-first", email="RITA@example.org")  # a sign-up that won
    assert account_signup(form=form) is None
    assert "An account with this email address already exists" in str(form.errors["email"])

    form = SignUpForm(signup_data(email="rita.two@example.org"))
    assert form.is_valid()
    new_inactive_user(username="rita", email="other@example.org")
    assert account_signup(form=form) is None
    assert "A user with that username already exists" in str(form.errors["username"])
    assert get_user_model().objects.count() == 2


def test_sign_up_applies_the_password_validators_and_username_rules(client, plain_user):
    response = client.post(SIGNUP, signup_data(password1="password", password2="password"))
    assert b"This password is too common" in response.content
    response = client.post(SIGNUP, signup_data(password2="something else entirely"))
    assert b"The two password fields" in response.content
    response = client.post(SIGNUP, signup_data(username="PAUL"))
    assert b"A user with that username already exists" in response.content
    assert get_user_model().objects.count() == 1


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
        link = urlsplit(re.search(r"https://\S+", mailbox[0].body)[0]).path
        traveller.move_to(T0 + dt.timedelta(days=3, minutes=1))
        page = client.get(link)
        assert page.status_code == 400 and b"has expired" in page.content
        assert b'href="/accounts/confirm/resend/"' in page.content
        assert client.post(link).status_code == 400
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
        page = client.post(f"/accounts/confirm/{bad}/")
        assert page.status_code == 400 and b"link is not valid" in page.content, bad
    rita.refresh_from_db()
    assert not rita.is_active


def test_a_link_for_a_changed_email_address_is_refused(client):
    rita = new_inactive_user()
    path = confirm_path(rita)
    rita.email = "someone.else@example.org"
    rita.save()
    assert b"link is not valid" in client.post(path).content


def test_an_old_link_does_not_revive_an_account_an_operator_deactivated(client):
    rita = new_inactive_user()
    path = confirm_path(rita)
    client.post(path)
    rita.refresh_from_db()
    assert rita.is_active and rita.last_login is not None
    rita.is_active = False  # an operator deactivates the account
    rita.save()
    fresh = Client()
    assert b"link is not valid" in fresh.post(path).content
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
    link = smtp.link_in(smtp.only_message_to("rita@example.org"))
    assert client.post(link)["Location"] == "/subscriptions/"
    assert get_user_model().objects.get(username="rita").is_active


def test_an_unconfirmed_account_logging_in_is_told_to_confirm(client):
    new_inactive_user()
    response = client.post(LOGIN, {"username": "rita", "password": PASSWORD})
    assert response.status_code == 200 and b"not confirmed yet" in response.content
    response = client.post(LOGIN, {"username": "rita", "password": "wrong guess"})
    assert b"didn't match" in response.content and b"not confirmed" not in response.content


# --- Password reset and change ------------------------------------------------------------


def test_a_forgotten_password_is_reset_by_a_link_received_over_smtp(smtp, plain_user):
    browser = Client(enforce_csrf_checks=True)
    response = submit(browser, RESET, {"email": "Paul@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert b"Check your email" in browser.get(response["Location"]).content

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
