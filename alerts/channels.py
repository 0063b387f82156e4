"""Delivery channels: one small class per way out (email, webhook), one error type.

Modelled on healthchecks' transports: ``Channel.send(...)`` either returns or raises
``DeliveryError(message, permanent=..., retry_after=...)``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class DeliveryError(Exception):
    """A message could not be delivered. ``permanent``: retrying cannot help (a refused
    recipient, a 404); ``retry_after``: seconds the other side asked us to wait, if any."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def webhook_url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why ``url`` is not an acceptable webhook target, or None.

    It must be an absolute http(s) URL with a host. Unless ``ALERTS_WEBHOOK_ALLOW_PRIVATE``,
    it must not point at a private, loopback, link-local or otherwise non-public address: a
    literal IP is checked always; a host name is resolved when ``resolve`` (at send time,
    so a name re-pointed to an internal address later is still refused).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "the webhook URL must start with http:// or https://"
    host = parts.hostname
    if not host:
        return "the webhook URL has no host name"
    if parts.username or parts.password:
        return "the webhook URL must not contain a user name or password"
    if settings.ALERTS_WEBHOOK_ALLOW_PRIVATE:
        return None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if _is_private(host):
            return f"the webhook URL points at a private or local address ({host})"
        return None
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"the webhook URL points at a local host name ({host})"
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        return f"the webhook host {host} does not resolve: {exc}"
    for info in infos:
        address = info[4][0]
        if _is_private(address):
            return f"the webhook host {host} resolves to a private or local address ({address})"
    return None
