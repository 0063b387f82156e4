"""The subscription form: what a user types, validated and turned into service arguments.

The form only validates and converts; the views hand :meth:`SubscriptionForm.service_kwargs`
to ``alerts.services.subscription_create`` / ``subscription_update``, which do the writing.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from alerts import validators
from alerts.models import Subscription
from ingestion.models import Chamber, Politician, Trade

PARTY_CHOICES = [(value, label) for value, label in Politician.Party.choices if value]


class SubscriptionForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="For you, and in the subject of every alert (e.g. “Pelosi purchases”).",
    )
    politicians = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Nancy Pelosi\nCrenshaw, Dan"}),
        help_text=(
            "One per line: a name (“Pelosi”, “Nancy Pelosi”, “Pelosi, Nancy”) or a bioguide id "
            "(P000197). Empty: any politician."
        ),
    )
    tickers = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "AAPL, MSFT, BRK.B"}),
        help_text="Separated by commas or spaces. Empty: any asset.",
    )
    chambers = forms.MultipleChoiceField(
        required=False,
        choices=Chamber.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: both.",
    )
    parties = forms.MultipleChoiceField(
        required=False,
        choices=PARTY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any party.",
    )
    transaction_types = forms.MultipleChoiceField(
        label="Transaction types",
        required=False,
        choices=Trade.TransactionType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any type.",
    )
    owners = forms.MultipleChoiceField(
        label="Owners",
        required=False,
        choices=Trade.Owner.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Whose account the trade was in. None ticked: anyone.",
    )
    min_amount = forms.IntegerField(
        label="Minimum amount (US dollars)",
        required=False,
        min_value=0,
        max_value=10**12,
        help_text=(
            "Trades whose reported range can reach this amount (a $15,001 to $50,000 trade "
            "matches a minimum of $50,000). Empty: any amount."
        ),
        error_messages={"invalid": "Enter the minimum amount as a whole number of dollars."},
    )
    late_only = forms.BooleanField(
        label="Only trades filed late (after the STOCK Act's 45-day limit)", required=False
    )
    channel = forms.ChoiceField(
        choices=Subscription.Channel.choices,
        initial=Subscription.Channel.EMAIL,
        widget=forms.RadioSelect,
    )
    target = forms.CharField(
        label="Email address or webhook URL",
        required=False,
        max_length=500,
        help_text=(
            "Email: leave empty to use your account's address. Webhook: an http(s) URL on the "
            "public internet; each request is signed with a secret shown once after saving."
        ),
    )
    mode = forms.ChoiceField(
        choices=Subscription.Mode.choices,
        initial=Subscription.Mode.INSTANT,
        widget=forms.RadioSelect,
        help_text="Instant: seconds after a trade is stored. Daily digest: one message a day.",
    )

    FIELDSETS = (
        ("Name", "", ("name",)),
        (
            "Which trades",
            "A trade must pass every filter you fill in; an empty filter lets every trade through.",
            (
                "politicians",
                "tickers",
                "chambers",
                "parties",
                "transaction_types",
                "owners",
                "min_amount",
                "late_only",
            ),
        ),
        ("Where and when", "", ("channel", "target", "mode")),
    )

    def __init__(self, *args, user, subscription: Subscription | None = None, **kwargs) -> None:
        self.user = user
        self.subscription = subscription
        if subscription is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(subscription)
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(subscription: Subscription) -> dict:
        return {
            "name": subscription.name,
            "politicians": "\n".join(
                validators.politician_reference(p)
                for p in subscription.politicians.order_by("last_name", "first_name")
            ),
            "tickers": ", ".join(subscription.ticker_values()),
            "chambers": subscription.chamber_values(),
            "parties": subscription.party_values(),
            "transaction_types": subscription.transaction_type_values(),
            "owners": subscription.owner_values(),
            "min_amount": subscription.min_amount,
            "late_only": subscription.late_only,
            "channel": subscription.channel,
            "target": subscription.target,
            "mode": subscription.mode,
        }

    def fieldsets(self) -> list[dict]:
        return [
            {"legend": legend, "help": help_text, "fields": [self[name] for name in names]}
            for legend, help_text, names in self.FIELDSETS
        ]

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Enter a name for the subscription.")
        return name

    def clean_politicians(self) -> list[Politician]:
        lookup = validators.politicians_lookup(self.cleaned_data["politicians"])
        if lookup.not_found or lookup.ambiguous:
            raise ValidationError(lookup.error_message(), code="politician")
        return lookup.found

    def clean_tickers(self) -> list[str]:
        return validators.parse_tickers(self.cleaned_data["tickers"])

    def clean(self) -> dict:
        data = super().clean()
        if self.subscription is None:
            limit = settings.ALERTS_MAX_SUBSCRIPTIONS_PER_USER
            if Subscription.objects.filter(owner=self.user).count() >= limit:
                raise ValidationError(
                    f"You already have {limit} subscriptions, the most one account may have: "
                    "delete one you no longer need, or widen an existing one's filters.",
                    code="limit",
                )
        channel = data.get("channel")
        target = (data.get("target") or "").strip()
        if channel == Subscription.Channel.EMAIL:
            if not target:
                target = (self.user.email or "").strip()
                if not target:
                    self.add_error(
                        "target",
                        "Enter the email address to send alerts to (your account has none).",
                    )
                    return data
            try:
                validate_email(target)
            except ValidationError:
                self.add_error("target", f"“{target}” is not a valid email address.")
                return data
            data["target"] = target
        elif channel == Subscription.Channel.WEBHOOK:
            try:
                data["target"] = validators.validate_webhook_url(
                    target, allow_private=settings.ALERTS_WEBHOOK_ALLOW_PRIVATE
                )
            except ValidationError as error:
                self.add_error("target", error)
        return data

    def add_service_error(self, error: ValidationError) -> None:
        """Show a refusal of the service (a dict of field -> message) next to its field."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                field = "politicians" if field == "politician_ids" else field
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)

    def service_kwargs(self) -> dict:
        """Arguments for ``subscription_create`` / ``subscription_update``."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "politician_ids": [politician.pk for politician in data["politicians"]],
            "tickers": data["tickers"],
            "chambers": data["chambers"],
            "parties": data["parties"],
            "transaction_types": data["transaction_types"],
            "owners": data["owners"],
            "min_amount": data["min_amount"],
            "late_only": data["late_only"],
            "channel": data["channel"],
            "target": data["target"],
            "mode": data["mode"],
        }
