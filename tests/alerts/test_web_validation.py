"""Bad input on the subscription form: each mistake refused with a message naming it."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ValidationError

from alerts import validators
from alerts.models import Subscription
from ingestion.models import Politician

NEW = "/subscriptions/new/"


@pytest.fixture
def paul(client, plain_user):
    client.force_login(plain_user)
    return client


def form_data(**overrides) -> dict:
    data = {"name": "Alert", "channel": "email", "target": "", "mode": "instant"}
    data.update(overrides)
    return data


def target_errors(client, **overrides) -> list[str]:
    response = client.post(NEW, form_data(**overrides))
    assert response.status_code == 200, "the form was accepted"
    return list(response.context["form"].errors.get("target", []))


def make_politician(last, first, *, bioguide="", chamber="house"):
    return Politician.objects.create(
        last_name=last,
        first_name=first,
        full_name=f"{first} {last}",
        chamber=chamber,
        bioguide_id=bioguide,
        is_resolved=bool(bioguide),
        name_key=f"{last}|{first}".lower(),
    )


# --- Targets ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_invalid_email_address_is_refused(paul):
    assert target_errors(paul, target="paul@") == ["“paul@” is not a valid email address."]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_an_email_subscription_needs_an_address_when_the_account_has_none(client, plain_user):
    plain_user.email = ""
    plain_user.save()
    client.force_login(plain_user)
    assert target_errors(client) == [
        "Enter the email address to send alerts to (your account has none)."
    ]


@pytest.mark.django_db
def test_a_webhook_url_that_is_not_http_is_refused(paul):
    errors = target_errors(paul, channel="webhook", target="ftp://files.example.com/hook")
    assert errors == ["A webhook URL must start with http:// or https:// (this one has “ftp://”)."]
    assert target_errors(paul, channel="webhook", target="hooks.example.com/x") == [
        "A webhook URL must start with http:// or https:// (this one has no scheme)."
    ]
    assert target_errors(paul, channel="webhook", target="") == ["Enter the webhook URL."]
    assert target_errors(paul, channel="webhook", target="https:///path") == [
        "“https:///path” has no host name."
    ]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://127.0.0.1/hook",
            "Webhooks cannot be sent to private or internal addresses: "
            "“127.0.0.1” is a loopback address.",
        ),
        (
            "http://10.0.0.5/hook",
            "Webhooks cannot be sent to private or internal addresses: "
            "“10.0.0.5” is a private address.",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "Webhooks cannot be sent to private or internal addresses: "
            "“169.254.169.254” is a link-local address.",
        ),
        (
            "http://[::1]:8080/hook",
            "Webhooks cannot be sent to private or internal addresses: "
            "“::1” is a loopback address.",
        ),
        (
            "http://[::ffff:192.168.1.1]/hook",
            "Webhooks cannot be sent to private or internal addresses: "
            "“::ffff:192.168.1.1” is a private address.",
        ),
        (
            "http://224.0.0.1/hook",
            "Webhooks cannot be sent to private or internal addresses: "
            "“224.0.0.1” is a multicast address.",
        ),
    ],
)
def test_a_webhook_url_at_a_private_address_is_refused(paul, url, message):
    assert target_errors(paul, channel="webhook", target=url) == [message]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_a_webhook_host_name_that_resolves_to_loopback_is_refused(paul):
    # "localhost" is resolved for real (getaddrinfo), like any other name.
    [error] = target_errors(paul, channel="webhook", target="http://localhost:9000/hook")
    assert error.startswith(
        "Webhooks cannot be sent to private or internal addresses: “localhost” resolves to "
    )
    assert error.endswith(", a loopback address.")
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_a_webhook_host_name_that_does_not_resolve_is_refused(paul):
    [error] = target_errors(paul, channel="webhook", target="https://no-such-host.invalid/hook")
    assert error.startswith("The host name “no-such-host.invalid” does not resolve (")


@pytest.mark.django_db
def test_a_webhook_url_with_a_password_in_it_is_refused(paul):
    [error] = target_errors(
        paul, channel="webhook", target="https://user:hunter2@93.184.215.14/hook"
    )
    assert error.startswith("A webhook URL must not contain a user name or password")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765/hook", "http://10.0.0.5/hook", "http://localhost:9000/hook"]
)
def test_private_webhook_urls_are_allowed_when_the_setting_is_on(paul, settings, url):
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = True
    response = paul.post(NEW, form_data(channel="webhook", target=url))
    assert response.status_code == 302
    assert Subscription.objects.get().target == url


# --- Filters ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_politicians_that_are_not_found_are_named(paul):
    make_politician("Pelosi", "Nancy", bioguide="P000197")
    response = paul.post(NEW, form_data(politicians="Pelosi\nJohn Nobody\nZ999999"))
    assert response.context["form"].errors["politicians"] == [
        "No politician found for “John Nobody”, “Z999999”."
    ]
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_a_name_that_fits_several_politicians_asks_for_more(paul):
    make_politician("Smith", "Adam", bioguide="S000510")
    make_politician("Smith", "Jason", bioguide="S001195")
    response = paul.post(NEW, form_data(politicians="Smith"))
    [error] = response.context["form"].errors["politicians"]
    assert error.startswith("“Smith” could mean several politicians (")
    assert "Adam Smith (S000510)" in error and "Jason Smith (S001195)" in error
    assert error.endswith("add the first name or use the id in parentheses.")

    assert paul.post(NEW, form_data(politicians="Jason Smith")).status_code == 302
    assert [p.bioguide_id for p in Subscription.objects.get().politicians.all()] == ["S001195"]


@pytest.mark.django_db
def test_politicians_are_found_by_last_first_and_by_comma_separated_lists(paul):
    pelosi = make_politician("Pelosi", "Nancy", bioguide="P000197")
    crenshaw = make_politician("Crenshaw", "Dan", bioguide="C001120")
    lookup = validators.politicians_lookup("Pelosi, Nancy")
    assert lookup.found == [pelosi] and not lookup.not_found
    lookup = validators.politicians_lookup("Pelosi, Crenshaw")
    assert lookup.found == [pelosi, crenshaw] and not lookup.not_found
    lookup = validators.politicians_lookup("p000197; Dan Crenshaw (C001120)")
    assert lookup.found == [pelosi, crenshaw]


@pytest.mark.django_db
def test_an_unresolved_politician_is_found_by_its_full_name_or_number(paul):
    unresolved = make_politician("Doe", "Jane")
    assert validators.politicians_lookup("Jane Doe").found == [unresolved]
    assert validators.politicians_lookup(f"Jane Doe (#{unresolved.pk})").found == [unresolved]


@pytest.mark.django_db
def test_a_former_member_is_found_by_the_names_a_user_types(paul):
    """Former members are not in the roster: they stay unresolved under the name the feed
    printed ("David A Perdue Jr."), and users type "Perdue" or "David Perdue"."""
    perdue = Politician.objects.create(
        last_name="Perdue", first_name="David", middle_name="A", suffix="Jr.",
        full_name="David A Perdue Jr.", chamber="senate", name_key="perdue|david",
    )  # fmt: skip
    make_politician("Smith", "Adam")
    make_politician("Smith", "Jason", bioguide="S001195")
    for typed in ("Perdue", "David Perdue", "perdue, david", "David A Perdue Jr."):
        lookup = validators.politicians_lookup(typed)
        assert lookup.found == [perdue], typed
    lookup = validators.politicians_lookup("Smith")  # a former and a current member
    assert not lookup.found and len(lookup.ambiguous["Smith"]) == 2
    assert validators.politicians_lookup("Adam Smith").found[0].full_name == "Adam Smith"
    assert validators.politicians_lookup("Daniel Perdue").not_found == ["Daniel Perdue"]
    # One former member filed under two spellings: both are offered, neither dropped.
    thomas = make_politician("Udall", "Thomas")
    tom = make_politician("Udall", "Tom")
    for typed in ("Tom Udall", "Thomas Udall", "Udall"):
        assert validators.politicians_lookup(typed).ambiguous[typed] == [thomas, tom], typed
    assert validators.politicians_lookup(f"Tom Udall (#{tom.pk})").found == [tom]

    response = paul.post(NEW, form_data(politicians="Perdue"))
    assert response.status_code == 302
    assert list(Subscription.objects.get().politicians.all()) == [perdue]


@pytest.mark.django_db
def test_bad_tickers_are_named(paul):
    response = paul.post(NEW, form_data(tickers="AAPL, N/A, WAY-TOO-LONG-TICKER"))
    assert response.context["form"].errors["tickers"] == [
        "“N/A” is not a ticker symbol; “WAY-TOO-LONG-TICKER” cannot be a ticker symbol "
        "(more than 10 characters, spaces or punctuation)."
    ]


def test_tickers_are_cleaned_as_ingestion_cleans_them():
    assert validators.parse_tickers("aapl, brk-b  msft;$nvda,AAPL") == [
        "AAPL",
        "BRK.B",
        "MSFT",
        "NVDA",
    ]
    assert validators.parse_tickers("  ") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", "Ensure this value is greater than or equal to 0."),
        ("50k", "Enter the minimum amount as a whole number of dollars."),
        ("12.5", "Enter the minimum amount as a whole number of dollars."),
    ],
)
def test_a_minimum_amount_must_be_whole_dollars_not_below_zero(paul, value, message):
    response = paul.post(NEW, form_data(min_amount=value))
    assert response.context["form"].errors["min_amount"] == [message]


@pytest.mark.django_db
def test_unknown_choices_and_a_blank_name_are_refused(paul):
    response = paul.post(NEW, form_data(name="   ", chambers=["moon"], channel="pigeon"))
    errors = response.context["form"].errors
    assert errors["name"] == ["This field is required."]
    assert errors["chambers"] == [
        "Select a valid choice. moon is not one of the available choices."
    ]
    assert errors["channel"] == [
        "Select a valid choice. pigeon is not one of the available choices."
    ]


@pytest.mark.django_db
def test_a_user_cannot_have_more_subscriptions_than_the_limit(paul, plain_user, settings):
    settings.ALERTS_MAX_SUBSCRIPTIONS_PER_USER = 2
    assert paul.post(NEW, form_data(name="one")).status_code == 302
    assert paul.post(NEW, form_data(name="two")).status_code == 302
    response = paul.post(NEW, form_data(name="three"))
    assert response.context["form"].non_field_errors() == [
        "You already have 2 subscriptions, the most one account may have: delete one you no "
        "longer need, or widen an existing one's filters."
    ]
    assert Subscription.objects.filter(owner=plain_user).count() == 2
    assert "the most allowed (2)" in paul.get("/subscriptions/").content.decode()
    # Editing one of them is still allowed at the limit.
    subscription = Subscription.objects.get(name="one")
    response = paul.post(f"/subscriptions/{subscription.pk}/edit/", form_data(name="uno"))
    assert response.status_code == 302


# --- The address rules themselves -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", ""),
        ("2606:4700:4700::1111", ""),
        ("127.0.0.2", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address to classify
        ("192.168.0.10", "a private address"),
        ("172.16.3.4", "a private address"),
        ("fd00::1", "a private address"),
        ("fe80::1", "a link-local address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("::ffff:127.0.0.1", "a loopback address"),
    ],
)
def test_addresses_are_classified(address, problem):
    assert validators.address_problem(ipaddress.ip_address(address)) == problem


def test_a_host_name_resolving_to_a_private_address_is_refused_whatever_the_name():
    # The resolver is a parameter: a name pointing into 10/8 cannot be made up here otherwise.
    with pytest.raises(ValidationError) as refused:
        validators.validate_webhook_url(
            "https://hooks.partner.example/x",
            resolve=lambda host, port: ["93.184.215.14", "10.1.2.3"],
        )
    assert refused.value.messages == [
        "Webhooks cannot be sent to private or internal addresses: “hooks.partner.example” "
        "resolves to 10.1.2.3, a private address."
    ]


def test_a_resolver_that_does_not_answer_in_time_is_reported():
    def slow(host, port):
        raise TimeoutError("no answer within 3 s")

    with pytest.raises(ValidationError) as refused:
        validators.validate_webhook_url("https://slow.example/x", resolve=slow)
    assert refused.value.messages == [
        "The host name “slow.example” could not be resolved (no answer within 3 s); try again "
        "later."
    ]
