"""Delivery channels: one small class per way out (email, webhook), one error type.

Modelled on healthchecks' transports: ``Channel.send(...)`` either returns or raises
``DeliveryError(message, permanent=..., retry_after=...)``.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import smtplib
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from alerts.validators import ResolverBusy, resolve_host
from ingestion.http import retry_after_seconds

if TYPE_CHECKING:
    from alerts.messages import OutgoingMessage

USER_AGENT = "CapitolScope-Webhooks/1.0"
logger = logging.getLogger(__name__)


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
    literal IP is checked always; a host name is resolved when ``resolve`` (see
    :func:`webhook_addresses`, which raises a transient ``DeliveryError`` for a name that
    does not resolve, or not in time).
    """
    problem = _url_problem(url)
    if problem or not resolve:
        return problem
    try:
        webhook_addresses(url)
    except DeliveryError as error:
        if not error.permanent:
            raise
        return error.message
    return None


def _default_port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _url_problem(url: str) -> str | None:
    """The checks that need no DNS: scheme, host, no credentials, no private IP literal or
    local name (unless ``ALERTS_WEBHOOK_ALLOW_PRIVATE``)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
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
    if _ip_literal(host):
        if _is_private(host):
            return f"the webhook URL points at a private or local address ({host})"
        return None
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"the webhook URL points at a local host name ({host})"
    return None


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def webhook_addresses(url: str) -> list[str]:
    """The addresses a webhook to ``url`` may connect to, checked once, at send time.

    The URL must pass :func:`webhook_url_problem`'s checks; a host name is resolved within
    ``ALERTS_WEBHOOK_TIMEOUT`` seconds and, unless ``ALERTS_WEBHOOK_ALLOW_PRIVATE``, every
    address it resolves to must be public (so a name re-pointed to an internal address after
    the subscription was saved is refused). The request then connects to these addresses
    only (:class:`PinnedAdapter`): a second lookup could answer differently (DNS rebinding).

    Raises ``DeliveryError``: permanent for a refused URL or address; transient for a name
    that does not resolve, or not in time (a resolver outage is retried, not a reason to
    fail the delivery for good).
    """
    problem = _url_problem(url)
    if problem:
        raise DeliveryError(problem, permanent=True)
    parts = urlsplit(url)
    host = str(parts.hostname)
    if _ip_literal(host):
        return [host]
    # getaddrinfo has no timeout of its own: bounded here, so a slow resolver holds the worker
    # no longer than a slow webhook would, and is retried like one.
    timeout = settings.ALERTS_WEBHOOK_TIMEOUT
    try:
        addresses = resolve_host(host, _default_port(parts), timeout=timeout)
    except ResolverBusy as exc:
        raise DeliveryError(f"the webhook host {host} was not looked up: {exc}") from None
    except TimeoutError:
        raise DeliveryError(
            f"the webhook host {host} did not resolve within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise DeliveryError(f"the webhook host {host} does not resolve: {exc}") from None
    if not addresses:
        raise DeliveryError(f"the webhook host {host} does not resolve: no address")
    if not settings.ALERTS_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if _is_private(address.split("%", 1)[0]):  # without an IPv6 zone id
                raise DeliveryError(
                    f"the webhook host {host} resolves to a private or local address ({address})",
                    permanent=True,
                )
    return addresses


# --- Email --------------------------------------------------------------------------------


def _smtp_text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


def _smtp_code_error(code: int, text: bytes | str, what: str) -> DeliveryError:
    # 4xx: the server asks us to try later (greylisting, full mailbox, rate limits).
    return DeliveryError(f"{what}: {code} {_smtp_text(text)}".strip(), permanent=500 <= code < 600)


# What relays say when they will not relay for an unauthenticated client (Postfix "Relay
# access denied", Sendmail "Relaying denied", Exchange "Unable to relay", 530 "Authentication
# required"); not "User unknown in relay recipient table", a 5.1.1 about the address itself.
_RELAY_REFUSAL = re.compile(
    r"relay(?:ing)?\b[^.;]{0,40}?\b(?:denied|refused|not\s+(?:permitted|allowed)|prohibited"
    r"|disallowed)|unable\s+to\s+relay|authentication\s+(?:is\s+)?required"
    r"|requires?\s+(?:smtp\s+)?auth|auth\s+(?:is\s+)?required|must\s+authenticate",
    re.IGNORECASE,
)
_EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ENHANCED_STATUS = re.compile(r"\s*[245]\.(\d{1,3})\.(\d{1,3})\b")  # class.subject.detail


def _relay_refused(code: int, text: bytes | str) -> bool:
    """A recipient refused because the server will not relay for us unauthenticated: our
    login is missing or wrong, not the recipient's address."""
    said = _smtp_text(text)
    enhanced = _ENHANCED_STATUS.match(said)
    if enhanced and enhanced.group(1) == "1":  # x.1.y: the address (unknown user, bad domain)
        return False
    return code == 530 or bool(_RELAY_REFUSAL.search(said))


_TOO_LARGE = re.compile(
    r"^\s*5\.(?:3\.4|2\.3)\b|too\s+(?:large|big)|size\s+exceed|exceeds?\s.*\bsize",
    re.IGNORECASE,
)
TOO_LARGE = (
    "the mail server refused the message as too large (fewer trades per message: "
    "ALERTS_MAX_TRADES_PER_MESSAGE)"
)


def _too_large(code: int, text: bytes | str, *, at_mail_from: bool) -> bool:
    """The message is too big for the server, whatever the configuration: refused at
    MAIL FROM for its declared SIZE (552), or after DATA saying so (5.3.4 / 5.2.3, "message
    size exceeds ..."). Not a full mailbox (x.2.2, "mailbox size exceeded"), whose bare 552
    looks the same."""
    said = _smtp_text(text)
    enhanced = _ENHANCED_STATUS.match(said)
    if enhanced and enhanced.groups() == ("2", "2"):  # x.2.2: mailbox full
        return False
    return (at_mail_from and code == 552) or bool(_TOO_LARGE.search(said))


def _our_mail_settings_error(error: DeliveryError, *, what: str) -> DeliveryError:
    """``error`` comes from our own mail configuration (login, sender, relay permission), not
    the recipient: every message fails the same way until an operator fixes it, so the
    message is kept (retried with backoff, like a mail server that is down) and the operator
    is told loudly. ``what``: the message, for the log ("delivery 12")."""
    logger.error(
        "%s: %s; check the mail settings (retried like a server that is down)",
        what,
        error.message,
    )
    error.permanent = False
    return error


def _message_domain() -> str:
    address = email.utils.parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rpartition("@")[2] or urlsplit(settings.SITE_URL).hostname or "capitolscope"


def email_send(
    email_message: EmailMessage,
    *,
    what: str,
    too_large: str = "the mail server refused the message as too large",
    mask_addresses: bool = False,
) -> None:
    """Send one Django email, turning every SMTP outcome into a ``DeliveryError`` that says
    whether it is permanent (a refused recipient, a message too large) or worth retrying (a
    server that is down or busy, and our own login, sender or relay settings, which are also
    logged at ERROR). ``what`` names the message in that log ("delivery 12"); ``too_large``
    is the error for a message refused for its size (what the sender can change).
    ``mask_addresses``: email addresses in the server's replies (servers name the recipient)
    become ``<address>`` in the error and the log, for errors kept where addresses must not be
    (task results, dead letters)."""

    def code_error(code: int, text: bytes | str, reason: str) -> DeliveryError:
        said = _smtp_text(text)
        if mask_addresses:
            said = _EMAIL_ADDRESS.sub("<address>", said)
        return _smtp_code_error(code, said, reason)

    try:
        email_message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        refusals = list(exc.recipients.values()) or [(550, b"refused")]
        code, text = refusals[0]
        if all(_relay_refused(c, t) for c, t in refusals):
            error = code_error(
                code,
                text,
                "the mail server will not relay for us (is the login, EMAIL_HOST_USER / "
                "EMAIL_HOST_PASSWORD, set and right?)",
            )
            raise _our_mail_settings_error(error, what=what) from None
        error = code_error(code, text, "the mail server refused the recipient")
        error.permanent = any(c >= 500 for c, _t in refusals)
        raise error from None
    except smtplib.SMTPSenderRefused as exc:
        if exc.smtp_code < 500:  # 451/452: the server is busy or short of space
            raise code_error(
                exc.smtp_code, exc.smtp_error, "the mail server deferred the message"
            ) from None
        if _too_large(exc.smtp_code, exc.smtp_error, at_mail_from=True):
            raise code_error(exc.smtp_code, exc.smtp_error, too_large) from None
        error = code_error(
            exc.smtp_code,
            exc.smtp_error,
            "the mail server refused our sender address (DEFAULT_FROM_EMAIL)",
        )
        raise _our_mail_settings_error(error, what=what) from None
    except smtplib.SMTPAuthenticationError as exc:
        error = code_error(
            exc.smtp_code,
            exc.smtp_error,
            "the mail server refused our login (EMAIL_HOST_USER / EMAIL_HOST_PASSWORD)",
        )
        raise _our_mail_settings_error(error, what=what) from None
    except smtplib.SMTPResponseException as exc:  # data refused, …
        refused_size = exc.smtp_code >= 500 and _too_large(
            exc.smtp_code, exc.smtp_error, at_mail_from=False
        )
        reason = too_large if refused_size else "the mail server answered"
        raise code_error(exc.smtp_code, exc.smtp_error, reason) from None
    except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused, timeouts
        raise DeliveryError(
            f"could not reach the mail server: {type(exc).__name__}: {exc}"
        ) from None


def message_id(key: str) -> str:
    """A Message-ID made from ``key``: the same for every try of one message, so a copy sent
    again after a crash is recognisable as such."""
    return f"<{key}@{_message_domain()}>"


class EmailChannel:
    """Through Django's email backend (SMTP in production), plain text with an HTML part."""

    def send(self, message: OutgoingMessage) -> None:
        email_message = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.target],
            headers={
                "Message-ID": message_id(f"delivery-{message.delivery_id}"),
                "X-CapitolScope-Delivery": str(message.delivery_id),
                "Auto-Submitted": "auto-generated",
            },
        )
        email_message.attach_alternative(message.html, "text/html")
        email_send(email_message, what=f"delivery {message.delivery_id}", too_large=TOO_LARGE)


# --- Webhook ------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`` (see docs/webhooks.md)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def _without_url_secrets(text: str, url: str) -> str:
    """``text`` (a response excerpt) with the URL's query, path and longer path segments
    masked: error pages often echo the request path ("Cannot POST /…"), which may be a token."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if len(segment) >= 8]
    for secret in (parts.query, parts.path, *sorted(segments, key=len, reverse=True)):
        if len(secret) > 1:
            text = text.replace(secret, "…")
    return text


def _host(url: str) -> str:
    """Host and port only: the path and query of a webhook URL may hold a token."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


class ExchangeDeadline:
    """A total time limit on a webhook exchange, from its connection being open to the last
    byte of the answer read: TLS handshake, request and response together.

    The socket's own timeout is per read, so a server trickling its answer a byte at a time
    could hold the worker until the task's time limit. When ``seconds`` have passed, the
    connection is shut down, which ends a read blocked on it at once; ``expired`` then says
    why the exchange failed. It watches a duplicate of the socket's descriptor (``dup``):
    TLS wrapping detaches the original socket object, and a descriptor of our own cannot be
    closed and reused for another connection before we shut it down.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._watched: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        """Start the clock (at the first connection) and shut ``sock`` down when it ends."""
        with self._lock:
            if self._stopped:
                return
            self._watched.append(sock.dup())
            if self._timer is None:
                self._timer = threading.Timer(self.seconds, self._expire)
                self._timer.daemon = True
                self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            for sock in self._watched:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """The exchange is over: cancel the clock and let go of the watched descriptors."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            for sock in self._watched:
                sock.close()
            self._watched.clear()


class _PinnedConnectionMixin:
    """Connects to the vetted ``addresses`` instead of resolving the URL's host name again,
    under the exchange's ``deadline``.

    ``host`` stays the URL's host name, so the Host header, TLS SNI and the certificate check
    are for it, as usual; only where the TCP connection goes is fixed.
    """

    def __init__(
        self, *args, addresses: tuple[str, ...], deadline: ExchangeDeadline | None, **kwargs
    ) -> None:
        self.addresses = addresses
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        # The connect timeout is a budget for all the addresses together, not one each (six
        # unreachable addresses would hold the worker six timeouts), shared out so that an
        # address that drops packets cannot spend it all and starve the next one: each try
        # gets an equal share of what is left (at least a second, or half a shorter budget),
        # so a send stays within three timeouts (lookup, connect, exchange).
        budget = self.timeout if isinstance(self.timeout, (int, float)) else None
        started = time.monotonic()
        error: OSError | None = None
        for index, address in enumerate(self.addresses):
            timeout = self.timeout
            if budget is not None:
                remaining = budget - (time.monotonic() - started)
                if remaining <= 0:
                    error = TimeoutError(f"no address answered within {budget:g} s")
                    break
                share = remaining / (len(self.addresses) - index)
                # At least a second (or half a short budget), so that even a budget under a
                # second leaves a second address its try.
                timeout = min(remaining, max(share, min(1.0, budget / 2)))
            try:
                sock = create_connection(
                    (address, self.port),  # in the resolver's order, as urllib3 would try them
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
                continue
            # The TLS handshake and the request run under the connect timeout, as urllib3's
            # own connections do (not under this try's share); the deadline bounds them all.
            if budget is not None:
                sock.settimeout(budget)
            if self.deadline is not None:
                self.deadline.watch(sock)
            return sock
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go to ``addresses`` only (see
    :func:`webhook_addresses`), whatever the URL's host name resolves to by then, each under
    ``deadline`` if given. One per request: it holds that request's addresses and deadline."""

    def __init__(self, *, addresses: list[str], deadline: ExchangeDeadline | None = None) -> None:
        self.addresses = tuple(addresses)
        self.deadline = deadline
        super().__init__(max_retries=0)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        pool.ConnectionCls = (
            _PinnedHTTPSConnection if pool.scheme == "https" else _PinnedHTTPConnection
        )
        pool.conn_kw.update(addresses=self.addresses, deadline=self.deadline)
        return pool


def pinned_session(
    *, addresses: list[str], deadline: ExchangeDeadline | None = None
) -> requests.Session:
    """A session that connects to ``addresses`` only (under ``deadline``). Not through a
    proxy from the environment (a proxy would resolve the name itself), and without ``.netrc``
    credentials; a CA bundle named by ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` is used."""
    session = requests.Session()
    session.trust_env = False
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    adapter = PinnedAdapter(addresses=addresses, deadline=deadline)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class WebhookChannel:
    """POST the JSON payload, signed; 2xx is delivered. Never logs or reports the URL's path."""

    def send(self, message: OutgoingMessage) -> None:
        addresses = webhook_addresses(message.target)
        body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-CapitolScope-Event": message.payload["event"],
            "X-CapitolScope-Delivery": str(message.delivery_id),
            "Idempotency-Key": str(message.delivery_id),
            "X-CapitolScope-Timestamp": timestamp,
            "X-CapitolScope-Signature": webhook_signature(
                secret=message.signing_secret, timestamp=timestamp, body=body
            ),
        }
        host = _host(message.target)
        timeout = settings.ALERTS_WEBHOOK_TIMEOUT
        deadline = ExchangeDeadline(timeout)
        session = pinned_session(addresses=addresses, deadline=deadline)
        try:
            with session.post(
                message.target,
                data=body,
                headers=headers,
                timeout=(timeout, timeout),  # to connect, and per read (the deadline: in all)
                stream=True,
                allow_redirects=False,  # a redirect could lead to an address we refuse
            ) as response:
                status = response.status_code
                if 200 <= status < 300:
                    return  # delivered: the body does not matter, and is not read
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                excerpt = self._read_excerpt(response, url=message.target)
        except requests.RequestException as exc:
            raise self._request_error(exc, host=host, deadline=deadline) from None
        finally:
            deadline.stop()
            session.close()
        if deadline.expired:  # the excerpt was cut short: the answer did not finish in time
            raise self._request_error(None, host=host, deadline=deadline)
        said = f"the webhook at {host} answered {status}" + (f": {excerpt}" if excerpt else "")
        if status in (408, 429) or status >= 500:
            raise DeliveryError(said, retry_after=retry_after if status == 429 else None)
        if 300 <= status < 400:
            raise DeliveryError(said + " (redirects are not followed: use the final URL)",
                                permanent=True)  # fmt: skip
        raise DeliveryError(said, permanent=True)

    @staticmethod
    def _request_error(
        exc: requests.RequestException | None, *, host: str, deadline: ExchangeDeadline
    ) -> DeliveryError:
        """The transient error for a request that failed (``exc``) or ran out of time."""
        timeout = deadline.seconds
        if deadline.expired:
            return DeliveryError(
                f"the webhook at {host} timed out: no complete answer within {timeout:g} s"
            )
        if isinstance(exc, requests.Timeout):
            return DeliveryError(f"the webhook at {host} timed out after {timeout:g} s")
        if isinstance(exc, requests.exceptions.SSLError):
            return DeliveryError(
                f"the TLS handshake with the webhook at {host} failed (is its certificate "
                "valid for the host name and issued by a trusted authority?)"
            )
        if isinstance(exc, requests.ConnectionError):
            reason = type(exc.__context__ or exc).__name__
            return DeliveryError(f"could not connect to the webhook at {host} ({reason})")
        return DeliveryError(f"the webhook at {host} failed: {type(exc).__name__}")

    @staticmethod
    def _read_excerpt(response: requests.Response, *, url: str) -> str:
        """At most ALERTS_WEBHOOK_MAX_RESPONSE_BYTES of the body (the rest is not read), as a
        short excerpt for the delivery's last error, without the secrets of ``url``."""
        limit = settings.ALERTS_WEBHOOK_MAX_RESPONSE_BYTES
        received = b""
        for chunk in response.iter_content(chunk_size=8192):
            received += chunk
            if len(received) >= limit:
                break
        text = received[:limit].decode("utf-8", "replace").strip()
        return " ".join(_without_url_secrets(text, url).split())[:200]


CHANNELS = {"email": EmailChannel, "webhook": WebhookChannel}


def channel_for(name: str) -> EmailChannel | WebhookChannel:
    try:
        return CHANNELS[name]()
    except KeyError:
        raise DeliveryError(f"unknown channel {name!r}", permanent=True) from None
