"""A 2-D mesh network-on-chip: dimension-order (XY) routing, per-hop latency, link bandwidth and
contention.

Core c sits at router (c mod columns, c // columns) (a tile of several cores shares one router
when `cores_per_router` > 1). A packet from core s to core d leaves through s's injection port,
then crosses |dx| horizontal and |dy| vertical links (X first), then d's ejection port. Every
port and link carries one packet per `cycles_per_packet`; a packet that finds its link busy waits
(first come, first served in order of readiness):

    depart(link) = max(ready, free(link));   free(link) = depart + cycles_per_packet
    ready(next)  = depart + hop latency (x_hop or y_hop for links, 0 for the ports)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MeshSpec:
    """Geometry and timing of the mesh, in the core array's time unit (cycles or ns)."""

    columns: int
    cores_per_router: int
    x_hop: float
    y_hop: float
    cycles_per_packet: float

    def router(self, core: int) -> tuple[int, int]:
        tile = core // self.cores_per_router
        return tile % self.columns, tile // self.columns

    def route(self, source: int, destination: int) -> list[tuple[str, tuple, float]]:
        """The ports and links a packet crosses, each with the latency of crossing it."""
        (x, y), (dx, dy) = self.router(source), self.router(destination)
        links: list[tuple[str, tuple, float]] = [("inject", (source,), 0.0)]
        while x != dx:
            step = 1 if dx > x else -1
            links.append(("x", (x, y, step), self.x_hop))
            x += step
        while y != dy:
            step = 1 if dy > y else -1
            links.append(("y", (x, y, step), self.y_hop))
            y += step
        links.append(("eject", (destination,), 0.0))
        return links

    def hops(self, source: int, destination: int) -> int:
        (x, y), (dx, dy) = self.router(source), self.router(destination)
        return abs(x - dx) + abs(y - dy)


@dataclass
class Mesh:
    """The state of the links during one step: when each is next free, and how many packets
    each carried over the whole run (the hot spots)."""

    spec: MeshSpec
    free: dict[tuple, float] = field(default_factory=dict)
    traffic: Counter = field(default_factory=Counter)
    waited: float = 0.0

    def reset(self) -> None:
        """A new step: every link idle from time 0."""
        self.free = {}

    def send(self, source: int, destination: int, ready: float, count: int) -> float:
        """Route a burst of `count` packets from one core to another, all ready at `ready`; the
        arrival of its first packet (packet j arrives j x cycles_per_packet later). A burst holds
        each link for count x cycles_per_packet (bursts are served whole, first come first)."""
        time, hold = ready, count * self.spec.cycles_per_packet
        for kind, where, latency in self.spec.route(source, destination):
            key = (kind, where)
            depart = max(time, self.free.get(key, 0.0))
            self.waited += (depart - time) * count
            self.free[key] = depart + hold
            self.traffic[key] += count
            time = depart + latency
        return time
