"""Token-bucket rate limits for the citizen channels: one bucket per session and one per client IP.

In memory, per process: enough to stop a runaway client or a script hammering one app process.  A
deployment with several app processes behind a proxy adds a shared limit at the proxy as well.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    burst: int  # messages allowed at once
    per_second: float  # refill rate

    def describe(self) -> str:
        return f"{self.burst} burst, {self.per_second * 60:g}/min"


# A citizen types a few messages a minute; a shared office IP (NAT) carries many citizens.
SESSION_LIMIT = Limit(burst=8, per_second=12 / 60)
IP_LIMIT = Limit(burst=40, per_second=120 / 60)


class Buckets:
    """Token buckets keyed by a string; the least recently used keys are forgotten past ``max_keys``."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000):
        self.limit = limit
        self.clock = clock
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)

    def take(self, key: str) -> float:
        """Spend one token; returns 0 when allowed, else the seconds until a token is available."""
        now = self.clock()
        tokens, stamp = self._state.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - stamp) * self.limit.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.limit.per_second
        self._state[key] = (tokens, now)
        while len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return wait


class RateLimiter:
    """Both limits at once: a message passes only when its session and its IP both have a token."""

    def __init__(
        self,
        session_limit: Limit = SESSION_LIMIT,
        ip_limit: Limit = IP_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = Buckets(session_limit, clock)
        self.ips = Buckets(ip_limit, clock)

    def check(self, session: str, ip: str) -> float:
        """0 when the message may go on, else how many seconds to wait (rounded up to whole seconds)."""
        wait = max(self.ips.take(ip or "?"), self.sessions.take(session))
        return float(int(wait) + 1) if wait > 0 else 0.0
