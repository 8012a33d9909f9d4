"""Per-user flood protection: a user sending hundreds of messages a minute is slowed down.

Kept in this process's memory on purpose: it is a brake, not state. With several instances each
applies the limit to the updates it sees, so a flooding user is at most slowed less, never lost
(nothing a caregiver answered is stored here).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal

Verdict = Literal["ok", "notify", "drop"]


class FloodGuard:
    def __init__(
        self, limit: int = 30, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._notified_until: dict[int, float] = {}

    def check(self, user_id: int) -> Verdict:
        """`ok` to handle the update; `notify` once when the limit is passed; then `drop`."""
        now = self.clock()
        seen = self._seen.setdefault(user_id, deque(maxlen=self.limit))
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) < self.limit:
            seen.append(now)
            if len(self._seen) > 50_000:
                self._forget_idle(now)
            return "ok"
        if self._notified_until.get(user_id, 0.0) > now:
            return "drop"
        self._notified_until[user_id] = seen[0] + self.window
        return "notify"

    def _forget_idle(self, now: float) -> None:
        idle = [u for u, s in self._seen.items() if not s or s[-1] <= now - self.window]
        for user_id in idle:
            self._seen.pop(user_id, None)
            self._notified_until.pop(user_id, None)
