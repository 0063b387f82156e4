"""Checks on what a user types into a subscription: webhook URLs, tickers, politicians.

Each check raises ``ValidationError`` with a message naming the value and what is wrong with
it, so the form can show it next to the field. They are plain functions (no form, no request)
so the admin, a command or an API can reuse them.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import re
import socket
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from ingestion import normalize

# getaddrinfo has no timeout of its own, and a lookup cannot be cancelled: against a nameserver
# that never answers it holds its thread for up to ~30 s after the caller gave up. So each
# distinct (host, port) in flight gets one daemon thread of its own, concurrent lookups of the
# same name share it, and at most RESOLVER_MAX_IN_FLIGHT names are looked up at once: a few
# hung names hold a few threads and never queue the lookups of other names behind them.
DEFAULT_RESOLVE_TIMEOUT = 3.0
RESOLVER_MAX_IN_FLIGHT = 32

_resolver_lock = threading.Lock()
_resolver_in_flight: dict[tuple[str, int], concurrent.futures.Future] = {}


class ResolverBusy(TimeoutError):
    """Too many host names are being looked up at once in this process (each still waiting
    for its nameserver): a transient condition, like a lookup that does not answer in time."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_problem(address: Address) -> str:
    """Why a webhook may not be sent to ``address`` ("" when it is a public address).

    A webhook POST is made by our worker from inside our network, so an address a user types
    could otherwise reach the database, Redis or a cloud metadata service (server-side request
    forgery): private, loopback, link-local, multicast, reserved, unspecified and other
    non-global addresses are refused. An IPv4-mapped IPv6 address is judged as its IPv4 form.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    )
    for attribute, words in checks:
        if getattr(address, attribute):
            return words
    if not address.is_global:
        return "a non-public address"
    return ""


def resolve_host(host: str, port: int, *, timeout: float = DEFAULT_RESOLVE_TIMEOUT) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo, bounded by ``timeout`` seconds), in
    the resolver's order of preference, without repeats.

    Raises ``OSError`` when the name does not resolve, ``TimeoutError`` when the resolver
    does not answer in time, and ``ResolverBusy`` (a ``TimeoutError``) when
    ``RESOLVER_MAX_IN_FLIGHT`` other names are still being looked up. A lookup of a name
    already in flight waits for that lookup's answer instead of starting another.
    """
    key = (host, port)
    with _resolver_lock:
        future = _resolver_in_flight.get(key)
        if future is None or future.done():  # a finished lookup's answer is not reused
            if len(_resolver_in_flight) >= RESOLVER_MAX_IN_FLIGHT:
                raise ResolverBusy(
                    f"{len(_resolver_in_flight)} other host names are still being looked up "
                    f"in this process (at most {RESOLVER_MAX_IN_FLIGHT} at once)"
                )
            future = concurrent.futures.Future()
            _resolver_in_flight[key] = future
            threading.Thread(
                target=_look_up, args=(key, future), name=f"dns {host}", daemon=True
            ).start()
    try:
        infos = future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        # Not cancelled: the lookup keeps running (it cannot be stopped) and keeps its slot,
        # so the next lookups of this name join it rather than start more hung threads.
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _look_up(key: tuple[str, int], future: concurrent.futures.Future) -> None:
    """Run one getaddrinfo for ``key`` into ``future``, then free the name's slot."""
    try:
        future.set_result(socket.getaddrinfo(key[0], key[1], 0, socket.SOCK_STREAM))
    except BaseException as exc:  # the caller sees the resolver's own error
        future.set_exception(exc)
    finally:
        with _resolver_lock:
            if _resolver_in_flight.get(key) is future:
                del _resolver_in_flight[key]


def validate_webhook_url(
    url: str,
    *,
    allow_private: bool = False,
    resolve: Callable[[str, int], list[str]] | None = None,
) -> str:
    """The URL, stripped, if a webhook may be sent to it; else ``ValidationError``.

    Rules: scheme http or https; a host; when ``allow_private`` is false, the host — an IP
    literal, or every address its name resolves to — must be a public address (see
    :func:`address_problem`). A name that does not resolve is refused too: nothing could
    ever be delivered to it. The worker checks the address again when it sends (a DNS answer
    can change after the form was saved).
    """
    url = (url or "").strip()
    if not url:
        raise ValidationError("Enter the webhook URL.", code="required")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValidationError(f"“{url}” is not a valid URL ({error}).", code="invalid") from None
    if parts.scheme.lower() not in {"http", "https"}:
        shown = f"“{parts.scheme}://”" if parts.scheme else "no scheme"
        raise ValidationError(
            f"A webhook URL must start with http:// or https:// (this one has {shown}).",
            code="scheme",
        )
    host = parts.hostname or ""
    if not host:
        raise ValidationError(f"“{url}” has no host name.", code="host")
    if any(char.isspace() for char in url):
        raise ValidationError("A webhook URL cannot contain spaces.", code="invalid")
    if parts.username or parts.password:
        raise ValidationError(
            "A webhook URL must not contain a user name or password; the request is "
            "authenticated by its signature.",
            code="credentials",
        )
    if allow_private:
        return url

    port = port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolve or resolve_host)(host, port)
        except TimeoutError as error:
            raise ValidationError(
                f"The host name “{host}” could not be resolved ({error}); try again later.",
                code="resolve",
            ) from None
        except OSError as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ValidationError(
                f"The host name “{host}” does not resolve ({reason}); check the URL.",
                code="resolve",
            ) from None
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        problem = address_problem(address)
        if problem:
            where = f"“{host}” is {problem}" if literal is not None else (
                f"“{host}” resolves to {address}, {problem}"
            )  # fmt: skip
            raise ValidationError(
                f"Webhooks cannot be sent to private or internal addresses: {where}.",
                code="private_address",
            )
    return url


# --------------------------------------------------------------------------------------------
# Tickers
# --------------------------------------------------------------------------------------------

_LIST_SPLIT_RE = re.compile(r"[\s,;]+")


def parse_tickers(text: str) -> list[str]:
    """Ticker symbols from comma/space separated text, cleaned as ingestion cleans them.

    ``"aapl, brk-b  msft"`` -> ``["AAPL", "BRK.B", "MSFT"]`` (upper case, canonical share-class
    form, duplicates dropped, order kept). Anything ingestion would not store as a ticker is
    refused, all bad values named in one message.
    """
    tickers: list[str] = []
    problems: list[str] = []
    for token in _LIST_SPLIT_RE.split(text or ""):
        if not token:
            continue
        try:
            ticker = normalize.clean_ticker(token)
        except normalize.Rejected as rejected:
            problems.append(f"“{token}” {rejected.reason}")
            continue
        if not ticker:
            problems.append(f"“{token}” is not a ticker symbol")
        elif ticker not in tickers:
            tickers.append(ticker)
    if problems:
        raise ValidationError("; ".join(problems) + ".", code="ticker")
    return tickers


# --------------------------------------------------------------------------------------------
# Politicians
# --------------------------------------------------------------------------------------------

# "Nancy Pelosi (P000197)" or "John Doe (#42)": how the form shows chosen politicians, so an
# edited subscription reads its own list back.
_REFERENCE_RE = re.compile(r"\(\s*(#\d+|[A-Za-z]\d{6})\s*\)\s*$")
_BIOGUIDE_RE = re.compile(r"^[A-Za-z]\d{6}$")


def politician_reference(politician) -> str:
    """The text that stands for ``politician`` in the form (read back by the resolver)."""
    key = politician.bioguide_id or f"#{politician.pk}"
    return f"{politician.full_name} ({key})"


def _fold(text: str) -> str:
    """Accent-, case- and punctuation-insensitive form of a name ('Sánchez' -> 'sanchez')."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[.'\u2019`,]", "", plain.lower()).replace("-", " ").split())


@dataclass
class PoliticianLookup:
    found: list = field(default_factory=list)  # Politician rows, in the order typed
    not_found: list[str] = field(default_factory=list)
    ambiguous: dict[str, list] = field(default_factory=dict)  # entry -> candidates

    def error_message(self) -> str:
        parts = []
        if self.not_found:
            names = ", ".join(f"“{name}”" for name in self.not_found)
            parts.append(f"No politician found for {names}")
        for entry, candidates in self.ambiguous.items():
            shown = "; ".join(politician_reference(p) for p in candidates[:5])
            more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
            parts.append(
                f"“{entry}” could mean several politicians ({shown}{more}): "
                "add the first name or use the id in parentheses"
            )
        return ". ".join(parts) + "." if parts else ""


def split_politician_entries(text: str) -> list[str]:
    """One entry per line or per ';'. A comma separates entries too, except inside a name
    written "Last, First" — that case is settled by the resolver, which tries the whole line
    first."""
    entries = []
    for line in re.split(r"[\n;]+", text or ""):
        line = " ".join(line.split())
        if line:
            entries.append(line)
    return entries


def politicians_lookup(text: str) -> PoliticianLookup:
    """Resolve typed politicians: bioguide ids, "#<id>", or names ("Pelosi", "Nancy Pelosi",
    "Pelosi, Nancy", "Rick Allen" for Richard W. Allen) against the politicians we know.

    A name must mean exactly one politician; several candidates are reported as ambiguous,
    none as not found — nothing is dropped silently.
    """
    from ingestion.identity import Legislator, RosterIndex, parse_person_name
    from ingestion.models import Politician
    from ingestion.services import PoliticianResolver

    result = PoliticianLookup()
    entries = split_politician_entries(text)
    if not entries:
        return result
    resolver = PoliticianResolver()
    # Politicians the roster does not list (former members, names the feeds spell their own
    # way) are found by the same name rules ("Perdue", "David Perdue" for "David A Perdue
    # Jr."), and by their whole name as filed.
    unresolved_by_name: dict[str, list] = {}
    unresolved_by_key: dict[str, Politician] = {}
    for politician in resolver.unresolved.values():
        unresolved_by_name.setdefault(_fold(politician.full_name), []).append(politician)
        unresolved_by_key[f"#{politician.pk}"] = politician
    unresolved_index = RosterIndex(
        Legislator(
            bioguide=key,
            first=p.first_name,
            middle=p.middle_name,
            last=p.last_name,
            suffix=p.suffix,
            nickname=p.nickname,
            official_full="",
            chamber=p.chamber,
            state=p.state,
            district=p.district,
            party="",
        )
        for key, p in unresolved_by_key.items()
    )

    def candidates_for(entry: str) -> list:
        reference = _REFERENCE_RE.search(entry)
        key = reference.group(1) if reference else entry
        if key.startswith("#"):
            return list(Politician.objects.filter(pk=int(key[1:])))
        if _BIOGUIDE_RE.match(key):
            found = resolver.by_bioguide.get(key.upper())
            if found is not None or reference:
                return [found] if found is not None else []
        person = parse_person_name(entry)
        legislators = resolver.roster.candidates(person)
        matches = [resolver.by_bioguide[legislator.bioguide] for legislator in legislators]
        # No exact-first-name preference among them: two rows may be one person under two
        # spellings ("Thomas Udall", "Tom S Udall"); keeping one would drop the other's trades.
        others = [
            unresolved_by_key[hit.bioguide]
            for hit in unresolved_index.candidates(person, prefer_exact=False)
        ]
        others += unresolved_by_name.get(_fold(entry), [])
        matches += [p for p in dict.fromkeys(others) if p not in matches]
        return matches

    seen: set[int] = set()
    for entry in entries:
        candidates = candidates_for(entry)
        pieces = [entry]
        if not candidates and "," in entry:
            # Not one "Last, First" name: a comma-separated list of names.
            pieces = [piece.strip() for piece in entry.split(",") if piece.strip()]
            if len(pieces) == 1:
                pieces = [entry]
        for piece in pieces:
            found = candidates if piece == entry else candidates_for(piece)
            if len(found) == 1:
                if found[0].pk not in seen:
                    seen.add(found[0].pk)
                    result.found.append(found[0])
            elif not found:
                result.not_found.append(piece)
            else:
                result.ambiguous[piece] = found
    return result
