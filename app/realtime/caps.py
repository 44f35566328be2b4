"""How many sockets one network may hold open before authenticating, and one credential after.

Counted per process (the sockets live in it; a cap across processes would cost a database write
per connect). Generous by design: a post's consoles behind one NAT, several tabs and a phone per
counselor must never be refused; what is refused is one client holding hundreds of sockets
(issue 21 found one device holding 200).

- Not yet authenticated, per network (an IPv4 address, an IPv6 /64): each such socket lasts at
  most ``auth_timeout_s``, so the cap only bounds a flood of idle handshakes.
- Authenticated, per credential: a staff member, an integrator client, a device.
"""

from __future__ import annotations

from collections import Counter

from app.config import RealtimeSettings


class SocketCaps:
    def __init__(self, settings: RealtimeSettings) -> None:
        self._settings = settings
        self._waiting: Counter[str] = Counter()
        self._open: Counter[str] = Counter()

    def limit_for(self, subject: str) -> int:
        """``subject``: ``staff:<id>``, ``client:<id>`` or ``device:<id>``."""
        kind = subject.partition(":")[0]
        if kind == "device":
            return self._settings.streams_per_device
        if kind == "client":
            return self._settings.streams_per_integrator
        return self._settings.streams_per_staff

    def wait(self, network: str) -> bool:
        """A socket from ``network`` starts authenticating; False: over the cap, refuse it."""
        if self._waiting[network] >= self._settings.unauthenticated_per_network:
            return False
        self._waiting[network] += 1
        return True

    def waiting(self, network: str) -> int:
        return self._waiting[network]

    def done_waiting(self, network: str) -> None:
        self._waiting[network] -= 1
        if self._waiting[network] <= 0:
            del self._waiting[network]

    def open(self, subject: str) -> bool:
        """An authenticated socket for ``subject``; False: it holds its cap already."""
        if self._open[subject] >= self.limit_for(subject):
            return False
        self._open[subject] += 1
        return True

    def close(self, subject: str) -> None:
        self._open[subject] -= 1
        if self._open[subject] <= 0:
            del self._open[subject]

    def held(self, subject: str) -> int:
        return self._open[subject]
