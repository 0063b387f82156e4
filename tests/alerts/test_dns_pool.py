"""The webhook DNS lookup (alerts.validators.resolve_host): a name whose nameserver never
answers must not hold up the lookups of other names.

getaddrinfo cannot be made slow for real here, so it is replaced by a resolver that answers
``*.test`` names as the test says (``hang.test`` blocks until the test releases it) and passes
every other name to the real getaddrinfo.
"""

import socket
import threading
import time

import pytest
from django.core.exceptions import ValidationError

from alerts import validators
from alerts.channels import DeliveryError, webhook_addresses
from tests.alerts.conftest import installed_resolver


class BlockingResolver:
    def __init__(self, real) -> None:
        self.real = real
        self.hanging: set[str] = set()
        self.released = threading.Event()
        self.lookups: list[str] = []
        self.entered = threading.Condition()

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if not str(host).endswith(".test"):
            return self.real(host, port, family, type, proto, flags)
        with self.entered:
            self.lookups.append(host)
            self.entered.notify_all()
        if host in self.hanging:
            self.released.wait(timeout=60)  # "forever": until the test ends
        address = ("93.184.215.14", port)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]


@pytest.fixture
def resolver(monkeypatch):
    yield from installed_resolver(monkeypatch, BlockingResolver(socket.getaddrinfo))


def test_lookups_of_a_hung_name_do_not_hold_up_the_lookup_of_another(resolver):
    resolver.hanging.add("hang.test")
    for _ in range(6):  # more hung lookups than the old pool had threads (4)
        with pytest.raises(TimeoutError, match=r"no answer within 0\.05 s"):
            validators.resolve_host("hang.test", 443, timeout=0.05)

    # Generous timeout: this only fails if the lookup is queued behind the hung ones.
    assert validators.resolve_host("fine.test", 443, timeout=30) == ["93.184.215.14"]
    # One getaddrinfo for the hung name, however many lookups waited for it.
    assert resolver.lookups.count("hang.test") == 1


class CountingInFlight(dict):
    """The resolver's in-flight table, counting how many lookups asked it for each name (each
    ``resolve_host`` call asks once, under the lock, then starts or joins the lookup)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: dict[tuple[str, int], int] = {}

    def get(self, key, default=None):
        self.asked[key] = self.asked.get(key, 0) + 1
        return super().get(key, default)


def wait_until(condition, *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_concurrent_lookups_of_one_name_share_one_lookup_and_its_answer(resolver, monkeypatch):
    in_flight = CountingInFlight()
    monkeypatch.setattr(validators, "_resolver_in_flight", in_flight)
    resolver.hanging.add("shared.test")
    answers: list[object] = []

    def look_up() -> None:
        try:
            answers.append(validators.resolve_host("shared.test", 80, timeout=30))
        except Exception as exc:  # recorded, so the assertion below shows it
            answers.append(exc)

    threads = [threading.Thread(target=look_up) for _ in range(6)]
    for thread in threads:
        thread.start()
    # Every one of the six has found (or started) the lookup in flight before it is answered.
    wait_until(lambda: in_flight.asked.get(("shared.test", 80), 0) == 6)
    # Another name is answered while the six wait.
    assert validators.resolve_host("other.test", 80, timeout=30) == ["93.184.215.14"]
    resolver.released.set()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [["93.184.215.14"]] * 6
    assert resolver.lookups.count("shared.test") == 1
    # The answer is not kept: the next lookup asks the resolver again.
    validators.resolve_host("shared.test", 80, timeout=30)
    assert resolver.lookups.count("shared.test") == 2


def test_when_every_slot_holds_a_hung_name_a_new_name_is_a_clear_transient_error(
    resolver, monkeypatch, settings
):
    monkeypatch.setattr(validators, "RESOLVER_MAX_IN_FLIGHT", 2)
    resolver.hanging.update({"hang-1.test", "hang-2.test"})
    for host in ("hang-1.test", "hang-2.test"):
        with pytest.raises(TimeoutError):
            validators.resolve_host(host, 443, timeout=0.05)

    busy = r"2 other host names .* \(at most 2 at once\)"
    with pytest.raises(validators.ResolverBusy, match=busy):
        validators.resolve_host("new.test", 443, timeout=30)

    settings.ALERTS_WEBHOOK_TIMEOUT = 30
    settings.ALERTS_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(DeliveryError) as caught:
        webhook_addresses("https://new.test/hook")
    assert not caught.value.permanent
    assert "the webhook host new.test was not looked up: 2 other host names" in str(caught.value)

    with pytest.raises(ValidationError, match=r"could not be resolved .* try again later"):
        validators.validate_webhook_url("https://new.test/hook")

    # Once the hung lookups end, their slots are free again.
    resolver.released.set()
    for thread in threading.enumerate():
        if thread.name in {"dns hang-1.test", "dns hang-2.test"}:
            thread.join(timeout=30)
    assert validators.resolve_host("new.test", 443, timeout=30) == ["93.184.215.14"]
