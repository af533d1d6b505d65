"""What the triggers of one event loop share: a bound on polls in flight and one client per connection.

A triggerer runs thousands of waits in one asyncio loop, each polling every 10-30 s. Giving every wait its
own HTTP client costs, per wait, a socket held open between polls that nobody reuses (connections idle past
httpx's 5 s keep-alive expiry are dropped, so every poll pays a new TCP and TLS handshake), ~50 KiB over
HTTPS, and ~90 objects for the garbage collector to traverse. One client per (loop, connection settings)
serves them all over a handful of kept-alive connections (``benchmarks/README.md``, triggerer density).

The same holds for waits on Runway's own API (``AsyncRunwayClient``): the registry takes any client that
closes with ``aclose()``, keyed by the connection's settings, whose type already tells the backends apart.

Both registries are keyed by the running event loop, weakly, so a loop that ends takes its entries along
and a client is never used from a loop other than the one that made it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["MAX_POLLS_IN_FLIGHT", "ClosableClient", "SharedClients", "poll_slot"]

#: Polls in flight per event loop. Without a bound, thousands of polls falling due together would queue
#: inside the HTTP pool, where waiting is far more expensive than in a semaphore; it also keeps the shared
#: client's pool (httpx: 100 connections) from ever filling.
MAX_POLLS_IN_FLIGHT = 32

_semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def poll_slot() -> asyncio.Semaphore:
    """The running loop's semaphore bounding polls in flight (created on first use)."""
    loop = asyncio.get_running_loop()
    semaphore = _semaphores.get(loop)
    if semaphore is None:
        semaphore = _semaphores[loop] = asyncio.Semaphore(MAX_POLLS_IN_FLIGHT)
    return semaphore


class ClosableClient(Protocol):
    """What the registry needs of a client: a way to close it (``AsyncKieClient``, ``AsyncRunwayClient``)."""

    async def aclose(self) -> None: ...


C = TypeVar("C", bound=ClosableClient)


@dataclass
class _Lease(Generic[C]):
    client: C
    users: int = 0


class SharedClients:
    """Reference-counted clients, one per (running event loop, key).

    The key says which clients are interchangeable: the trigger uses the connection's settings (API key and
    URLs), so a rotated key or a changed host gets a new client while waits already running keep theirs.
    The last user to leave closes the client, so nothing stays open once a loop has no waits.
    """

    def __init__(self) -> None:
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _Lease[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def users(self, key: Hashable) -> int:
        """How many users the running loop's client for ``key`` has (0 when there is none)."""
        lease = self._leases.get(asyncio.get_running_loop(), {}).get(key)
        return lease.users if lease else 0

    @asynccontextmanager
    async def lease(self, key: Hashable, build: Callable[[], C]) -> AsyncIterator[C]:
        """Use the loop's client for ``key``, building it with ``build()`` if there is none.

        Keys of different backends must differ (the connection settings' types do): the client found under
        a key is handed out as the type ``build`` makes.
        """
        leases = self._leases.setdefault(asyncio.get_running_loop(), {})
        lease = leases.get(key)
        if lease is None:
            # No await between the lookup and the insert: two waits starting together cannot build two.
            lease = leases[key] = _Lease(build())
        lease.users += 1
        try:
            yield lease.client
        finally:
            lease.users -= 1
            if lease.users == 0 and leases.get(key) is lease:
                del leases[key]
                # Shielded: a wait the triggerer cancels must still close the sockets it was last to use.
                await asyncio.shield(lease.client.aclose())
