"""Cycle-level simulation of a core array, driven by the golden model's event trace.

Per sample and algorithmic step, starting at time 0 (values are the golden model's; only time is
simulated). Each neuron node runs on its cores, every core a two-stage pipeline that time
multiplexes its neurons:

    synaptic stage  buffered events (the input, delayed edges) first, then the packets of this
                    step as they arrive: t = max(t, arrival) + synops of the packet x per_synop
    update stage    after its synaptic stage and once every source core has finished and its
                    packets arrived: active x per_update + inactive x per_inactive_update
    send            each neuron with a non-zero output sends one packet to every core of every
                    node it feeds, through the mesh (`neurodeploy.cost.mesh`), when its core
                    finishes

A core hosting several nodes runs them in program order. The step ends when every core has
finished and every packet has arrived (packets of delayed edges are processed in the next step,
from the buffer), then all cores meet at a barrier:

    latency(t, b) = max(finish of every core, last arrival) + barrier

Synaptic events of a core are those its neurons receive (`neurodeploy.cost.trace`); the events of
a core spread evenly over the packets it receives in the step (all of them buffered when none
arrive: the input, delayed edges). Time is in the array's unit (cycles, or
ns for an asynchronous chip).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from neurodeploy.cost.mesh import Mesh, MeshSpec
from neurodeploy.cost.trace import NodeTrace
from neurodeploy.ir.graph import INPUT

HOT_SPOTS = 5
SAMPLES = 64  # samples simulated in time (the first of the batch)


@dataclass(frozen=True)
class CoreTiming:
    """Time per operation of a core and its network, in `unit`, each figure with its source."""

    unit: str
    per_synop: float
    per_update: float
    per_inactive_update: float
    barrier: float
    mesh: MeshSpec
    sources: Mapping[str, str]


@dataclass(frozen=True)
class CoreMap:
    """Which core each neuron of each node runs on: node -> `(N,)` core numbers."""

    cores: Mapping[str, np.ndarray]

    @classmethod
    def blocks(cls, nodes) -> CoreMap:
        """Each placed node's neurons (a `NodePlacement`: node, neurons, cores,
        neurons_per_core) in contiguous blocks of `neurons_per_core` on its cores."""
        return cls({n.node: np.asarray(n.cores)[np.arange(n.neurons) // n.neurons_per_core]
                    for n in nodes})

    def of(self, name: str) -> dict[int, np.ndarray]:
        """Core -> indices of its neurons, for one node."""
        assignment = self.cores[name]
        return {int(c): np.flatnonzero(assignment == c) for c in np.unique(assignment)}


def burst_done(start: float, first: float, count: int, per_packet: float, spacing: float
               ) -> float:
    """When a core that is free at `start` has processed a burst of `count` packets arriving
    from `first` every `spacing`, each taking `per_packet`."""
    if per_packet >= spacing:
        return max(start, first) + count * per_packet
    return max(start + count * per_packet, first + (count - 1) * spacing + per_packet)


@dataclass(frozen=True)
class TimingProfile:
    """The simulated time of every (step, sample), and where it went."""

    unit: str
    latency: np.ndarray  # (T, B) per step
    busy: dict[int, float]  # per core, summed over steps and samples
    stalls: dict[int, float]  # per core: waiting for packets or sources with work pending
    core_nodes: dict[int, list[str]]
    links: list[tuple[str, int]]  # the busiest links: (name, packets)
    packet_wait: float  # packet-time spent queued at busy links, summed
    formula_per_step: float | None
    mesh_columns: int  # cores per mesh row (for pictures)

    def summary(self) -> dict:
        """JSON-safe figures: latency distribution, utilisation, stalls, hot spots."""
        lat = self.latency.ravel()
        total = float(self.latency.sum())
        utilisation = {c: self.busy[c] / total for c in sorted(self.busy)} if total else {}
        hottest = sorted(utilisation, key=lambda c: -utilisation[c])[:HOT_SPOTS]
        counts, edges = np.histogram(lat, bins=min(40, max(1, len(np.unique(lat)))))
        return {
            "unit": self.unit, "steps": int(self.latency.shape[0]),
            "samples": int(self.latency.shape[1]),
            "per_step": {"min": float(lat.min()), "median": float(np.median(lat)),
                         "p99": float(np.percentile(lat, 99)), "max": float(lat.max()),
                         "mean": float(lat.mean())},
            "per_inference_mean": float(self.latency.sum(axis=0).mean()),
            "formula_per_step": self.formula_per_step,
            "mean_over_formula": (float(lat.mean()) / self.formula_per_step
                                  if self.formula_per_step else None),
            "p99_over_formula": (float(np.percentile(lat, 99)) / self.formula_per_step
                                 if self.formula_per_step else None),
            "cores": [{"core": c, "nodes": self.core_nodes[c], "utilisation": utilisation[c],
                       "stall_fraction": self.stalls[c] / total} for c in sorted(utilisation)],
            "hot_cores": hottest,
            "hot_links": [{"link": name, "packets_per_sample": packets / self.latency.shape[1]}
                          for name, packets in self.links],
            "packet_wait_per_sample": self.packet_wait / self.latency.shape[1],
            "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
            "mesh_columns": self.mesh_columns}


class _Step:
    """One (step, sample): cores, the mesh, and the packets in flight."""

    def __init__(self, timing: CoreTiming, mesh: Mesh) -> None:
        self.timing, self.mesh = timing, mesh
        self.core_free: dict[int, float] = defaultdict(float)
        self.finish: dict[str, dict[int, float]] = {}
        self.packets: dict[tuple[str, int], list[tuple[float, int, str]]] = defaultdict(list)
        self.last_arrival = 0.0
        mesh.reset()

    def run_node(self, trace: NodeTrace, cores: dict[int, np.ndarray], t: int, b: int,
                 busy: dict[int, float], stalls: dict[int, float]) -> None:
        timing = self.timing
        streamed = [s for s in trace.sources if s.name != INPUT and not s.delay]
        sources_done = max((max(self.finish[s.name].values()) for s in streamed
                            if s.name in self.finish), default=0.0)
        self.finish[trace.name] = {}
        for core, neurons in cores.items():
            synops = float(trace.synops[t, b, neurons].sum())
            bursts = sorted(self.packets.get((trace.name, core), []))
            packets = sum(count for _, count, _ in bursts)
            start = self.core_free[core]
            work = synops * timing.per_synop
            time = start if packets else start + work
            for first, count, _ in bursts:
                time = burst_done(time, first, count, work / packets,
                                  timing.mesh.cycles_per_packet)
            update_start = max(time, sources_done)
            active = int(trace.active[t, b, neurons].sum())
            update = (active * timing.per_update
                      + (len(neurons) - active) * timing.per_inactive_update)
            finish = update_start + update
            busy[core] += work + update
            stalls[core] += max(0.0, update_start - start - work)
            self.core_free[core] = finish
            self.finish[trace.name][core] = finish

    def send(self, trace: NodeTrace, cores: dict[int, np.ndarray], t: int, b: int,
             consumers: list[tuple[str, bool]], core_map: CoreMap) -> None:
        """Packets of this node's outputs to every core of every consumer."""
        for core, neurons in cores.items():
            fired = int(trace.fired[t, b, neurons].sum())
            if not fired:
                continue
            ready = self.finish[trace.name][core]
            for consumer, delayed in consumers:
                for target in np.unique(core_map.cores[consumer]):
                    first = self.mesh.send(core, int(target), ready, fired)
                    last = first + (fired - 1) * self.timing.mesh.cycles_per_packet
                    self.last_arrival = max(self.last_arrival, last)
                    if not delayed:
                        self.packets[(consumer, int(target))].append((first, fired, trace.name))

    def latency(self) -> float:
        ends = [f for cores in self.finish.values() for f in cores.values()]
        return max([*ends, self.last_arrival]) + self.timing.barrier


def simulate_cycles(traces: dict[str, NodeTrace], order: list[str], core_map: CoreMap,
                    timing: CoreTiming, formula_per_step: float | None = None,
                    progress=lambda: None) -> TimingProfile:
    """Simulate every (step, sample) of the traces (nodes in `order`); see the module docstring.
    `progress` is called once per step."""
    consumers: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for name in order:
        for source in traces[name].sources:
            if source.name != INPUT:
                consumers[source.name].append((name, bool(source.delay)))
    placed = {name: core_map.of(name) for name in order}
    steps, batch = traces[order[0]].fired.shape[:2]
    latency = np.zeros((steps, batch))
    busy: dict[int, float] = defaultdict(float)
    stalls: dict[int, float] = defaultdict(float)
    mesh = Mesh(timing.mesh)
    for t in range(steps):
        for b in range(batch):
            step = _Step(timing, mesh)
            for name in order:
                step.run_node(traces[name], placed[name], t, b, busy, stalls)
                step.send(traces[name], placed[name], t, b, consumers[name], core_map)
            latency[t, b] = step.latency()
        progress()
    core_nodes: dict[int, list[str]] = defaultdict(list)
    for name in order:
        for core in placed[name]:
            core_nodes[core].append(name)
    links = [(f"{kind} {where}", count) for (kind, where), count
             in mesh.traffic.most_common(HOT_SPOTS)]
    return TimingProfile(timing.unit, latency, dict(busy), {c: stalls[c] for c in busy},
                         dict(core_nodes), links, mesh.waited, formula_per_step,
                         timing.mesh.columns * timing.mesh.cores_per_router)
