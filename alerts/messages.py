"""What a delivery says: the email (subject, plain text, HTML) and the webhook payload.

Pure rendering from the delivery's subscription and trades; sending is in alerts/channels.py.
The webhook payload is documented in docs/webhooks.md (keep both in step).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from alerts.models import Delivery, Subscription
from alerts.selectors import delivery_trades
from capitolscope import slack
from ingestion.models import Trade

PAYLOAD_VERSION = 1


@dataclass
class OutgoingMessage:
    delivery_id: int
    kind: str
    channel: str
    target: str
    signing_secret: str
    subject: str
    text: str
    html: str
    payload: dict[str, Any]
    trade_count: int


def manage_urls(subscription: Subscription) -> dict[str, str]:
    """Where the subscriber changes or stops the subscription (served by the web pages)."""
    return {
        "subscriptions_url": f"{settings.SITE_URL}/subscriptions/",
        "edit_url": f"{settings.SITE_URL}/subscriptions/{subscription.pk}/edit/",
    }


def _party_place(trade: Trade) -> str:
    p = trade.politician
    place = f"{p.state}{p.district}" if p.state else ""
    return "-".join(part for part in (p.party or "?", place) if part)


def trade_facts(trade: Trade) -> dict[str, Any]:
    """One trade as plain values, shared by the email templates and the webhook payload."""
    delay = trade.disclosure_delay_days
    if delay is None:
        delay = trade.disclosure_delay()
    return {
        "id": trade.pk,
        "politician": {
            "id": trade.politician_id,
            "name": trade.politician.full_name,
            "party": trade.politician.party,
            "state": trade.politician.state,
            "district": trade.politician.district,
            "bioguide_id": trade.politician.bioguide_id,
            "label": _party_place(trade),
        },
        "chamber": trade.chamber,
        "chamber_label": trade.get_chamber_display(),
        "ticker": trade.asset.ticker,
        "asset": trade.asset_description or trade.asset.name,
        "asset_kind": trade.asset_kind,
        "transaction_type": trade.transaction_type,
        "transaction_type_label": trade.get_transaction_type_display(),
        "owner": trade.owner,
        "owner_label": trade.get_owner_display(),
        "amount_min": trade.amount_min,
        "amount_max": trade.amount_max,
        "amount_label": trade.amount_label,
        "transaction_date": trade.transaction_date.isoformat(),
        "filed_date": trade.filed_date.isoformat() if trade.filed_date else None,
        "disclosure_delay_days": delay,
        "filed_late": trade.filed_late,
        "source_url": trade.filing.source_url,
        "filing_id": trade.filing.doc_id,
        "comment": trade.comment,
    }


def _slack_line(fact: dict[str, Any]) -> str:
    asset = fact["ticker"] or fact["asset"]
    dates = f"traded {fact['transaction_date']}"
    if fact["filed_date"]:
        dates += f", filed {fact['filed_date']}"
    if fact["disclosure_delay_days"] is not None:
        dates += f" ({fact['disclosure_delay_days']} days{', LATE' if fact['filed_late'] else ''})"
    line = slack.escape(
        f"• {fact['politician']['name']} ({fact['politician']['label']}, {fact['chamber_label']})"
        f" {fact['transaction_type_label'].lower()} {asset} {fact['amount_label']}, {dates}"
    )
    if fact["source_url"]:
        line += " " + slack.link(fact["source_url"], "filing")
    return line


def _headline(*, kind: str, subscription: Subscription, total: int, day: dt.date | None) -> str:
    trades = f"{total} new trade{'s' if total != 1 else ''}"
    if kind == Delivery.Kind.DIGEST:
        return f"Daily digest {day.isoformat() if day else ''}: {trades} for “{subscription.name}”"
    return f"{trades} for “{subscription.name}”"


def message_build(*, delivery: Delivery) -> OutgoingMessage | None:
    """Render ``delivery`` for its subscription's channel; None when it carries no trade."""
    subscription = delivery.subscription
    trades, total = delivery_trades(delivery=delivery, limit=settings.ALERTS_MAX_TRADES_PER_MESSAGE)
    if not total:
        return None
    facts = [trade_facts(trade) for trade in trades]
    urls = manage_urls(subscription)
    headline = _headline(
        kind=delivery.kind, subscription=subscription, total=total, day=delivery.digest_date
    )
    more = total - len(facts)
    context = {
        "subscription": subscription,
        "delivery": delivery,
        "headline": headline,
        "trades": facts,
        "total": total,
        "more": more,
        "site_url": settings.SITE_URL,
        **urls,
    }
    text_lines = [f"*CapitolScope* — {slack.escape(headline)}"] + [_slack_line(f) for f in facts]
    if more:
        text_lines.append(f"…and {more} more: {slack.escape(urls['subscriptions_url'])}")
    payload = {
        "version": PAYLOAD_VERSION,
        "event": "trades.matched" if delivery.kind == Delivery.Kind.INSTANT else "trades.digest",
        "delivery_id": delivery.pk,
        "subscription": {"id": subscription.pk, "name": subscription.name, **urls},
        "digest_date": delivery.digest_date.isoformat() if delivery.digest_date else None,
        "trade_count": total,
        "trades_omitted": more,
        "trades": facts,
        "text": "\n".join(text_lines),
    }
    return OutgoingMessage(
        delivery_id=delivery.pk,
        kind=delivery.kind,
        channel=subscription.channel,
        target=subscription.target,
        signing_secret=subscription.signing_secret,
        subject=f"CapitolScope: {headline}",
        text=render_to_string("alerts/email/alert.txt", context),
        html=render_to_string("alerts/email/alert.html", context),
        payload=payload,
        trade_count=total,
    )
