"""Per-client token bucket for requests that run code (cached answers are free).

In memory, per process: enough for one service instance. Buckets of idle clients are dropped
so a scan of many addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import HTTPConnection


def client_key(request: HTTPConnection, trust_forwarded_for: bool) -> str:
    """Who a request is from, for per-client limits. Behind a trusted proxy: the last
    X-Forwarded-For entry, the one the proxy appended (the peer it saw); the entries before
    it come from the client, which can write anything there."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
    return request.client.host if request.client else "unknown"


class RateLimiter:
    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = float(max(1, burst))
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, stamp)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, client: str) -> float:
        """Take one token for `client`. Returns 0 when allowed, else seconds until a token is free."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, stamp = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            retry = 0.0
        else:
            self._buckets[client] = (tokens, now)
            retry = (1.0 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)  # least recently seen
        return retry

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))


def release(counts: dict[str, int], client: str) -> None:
    """One place of `client` in a per-client count freed; a client at zero is dropped (idle
    clients take no memory)."""
    left = counts.get(client, 1) - 1
    if left > 0:
        counts[client] = left
    else:
        counts.pop(client, None)
