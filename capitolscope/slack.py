"""Slack-compatible message text (the ``text`` field of our webhooks and operator alerts).

Slack reads ``<…>`` as links and mentions (``<!channel>``, ``<url|label>``) and ``&`` as the
start of an entity, so text that comes from data or users — asset names like "AT&T",
subscription names, error excerpts — is escaped before it goes into a message; only the
links we build ourselves keep their angle brackets.
"""

from __future__ import annotations


def escape(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped as Slack's message format requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A Slack link ``<url|label>`` (the URL's own ``|`` and ``>`` escaped)."""
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label)}>"
