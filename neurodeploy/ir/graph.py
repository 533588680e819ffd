"""Graph structure shared by the float Network and the integer Program.

A graph is a set of named nodes and directed edges. An edge carries a delay of 0 or 1 steps: a
delayed edge delivers at step t what its source produced at step t - 1 (zero at t = 0), as NIR's
recurrent edges do. Edges without delay must form a DAG; delayed edges may close cycles. A node
whose inputs are several edges receives their sum.

Evaluation order: the strongly connected components of the whole graph (delayed edges included),
in topological order. A component of one node without a self-loop can run over all time steps at
once; the nodes of a larger component (or of a self-loop) must advance together, one step at a
time, in the topological order of their undelayed edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from neurodeploy.errors import UnsupportedModelError

#: the name of the graph's input pseudo-node (the data fed in at every step)
INPUT = "input"


@dataclass(frozen=True)
class Edge:
    """source -> target; with delay 1 the target sees the source's value of the previous step."""

    source: str
    target: str
    delay: int = 0

    def __post_init__(self) -> None:
        if self.delay not in (0, 1):
            raise UnsupportedModelError(f"edge {self.source} -> {self.target}: delay must be 0 or 1 "
                                        f"step, got {self.delay}")


@dataclass(frozen=True)
class Group:
    """Nodes evaluated together: all steps at once (`stepwise` False) or step by step."""

    names: tuple[str, ...]
    stepwise: bool


def check_edges(names: Sequence[str], edges: Iterable[Edge], what: str = "graph") -> None:
    """Every edge joins known nodes (or starts at INPUT); edges are not repeated."""
    known = set(names)
    seen = set()
    for edge in edges:
        if edge.source != INPUT and edge.source not in known:
            raise UnsupportedModelError(f"{what}: edge from unknown node '{edge.source}'")
        if edge.target not in known:
            raise UnsupportedModelError(f"{what}: edge to unknown node '{edge.target}'")
        key = (edge.source, edge.target, edge.delay)
        if key in seen:
            raise UnsupportedModelError(f"{what}: edge {edge.source} -> {edge.target} is repeated")
        seen.add(key)


def topological_order(names: Sequence[str], edges: Iterable[Edge]) -> list[str]:
    """The nodes ordered so every undelayed edge points forward (stable: ties keep `names` order).

    Raises UnsupportedModelError when undelayed edges form a cycle (it needs a delayed edge).
    """
    position = {name: i for i, name in enumerate(names)}
    incoming = {name: 0 for name in names}
    following: dict[str, list[str]] = {name: [] for name in names}
    for edge in edges:
        if edge.delay == 0 and edge.source != INPUT:
            incoming[edge.target] += 1
            following[edge.source].append(edge.target)
    ready = sorted((n for n in names if incoming[n] == 0), key=position.__getitem__)
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for nxt in following[name]:
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                ready.append(nxt)
                ready.sort(key=position.__getitem__)
    if len(order) != len(names):
        stuck = [n for n in names if n not in set(order)]
        raise UnsupportedModelError(f"nodes {stuck} form a cycle without a delay; a recurrent "
                                    "connection must be a delayed (recurrent) edge")
    return order


def _components(names: Sequence[str], edges: Sequence[Edge]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), in no particular order."""
    following: dict[str, list[str]] = {name: [] for name in names}
    for edge in edges:
        if edge.source != INPUT:
            following[edge.source].append(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for root in names:
        if root in index:
            continue
        work = [(root, iter(following[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(following[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def schedule(names: Sequence[str], edges: Sequence[Edge]) -> list[Group]:
    """The evaluation groups of a graph, in an order where every group's inputs come first."""
    order = topological_order(names, edges)
    rank = {name: i for i, name in enumerate(order)}
    components = _components(names, edges)
    member_of = {name: i for i, component in enumerate(components) for name in component}
    # a component goes after every component with an edge into it (a delayed edge between two
    # components is a feed-forward delay: its source still has to run first)
    before: dict[int, set[int]] = {i: set() for i in range(len(components))}
    for edge in edges:
        if edge.source != INPUT and member_of[edge.source] != member_of[edge.target]:
            before[member_of[edge.target]].add(member_of[edge.source])
    placed: list[int] = []
    done: set[int] = set()
    pending = sorted(range(len(components)), key=lambda i: min(rank[n] for n in components[i]))
    while pending:
        for i in pending:
            if before[i] <= done:
                placed.append(i)
                done.add(i)
                pending.remove(i)
                break
    looped = {e.target for e in edges if e.source == e.target}
    groups = []
    for i in placed:
        members = tuple(sorted(components[i], key=rank.__getitem__))
        groups.append(Group(members, len(members) > 1 or members[0] in looped))
    return groups


def latencies(names: Sequence[str], edges: Sequence[Edge]) -> dict[str, int]:
    """Per node, steps by which its output lags the input: the largest sum of delays on a path
    from the input that does not go round a cycle (0 for a plain feed-forward graph; nodes the
    input does not reach are left out)."""
    order = topological_order(names, edges)
    rank = {INPUT: -1, **{name: i for i, name in enumerate(order)}}
    reach = {INPUT: 0}
    for name in order:
        # an edge pointing backward (or to itself) in topological order closes a loop: skip it
        incoming = [reach[e.source] + e.delay for e in edges if e.target == name
                    and e.source in reach and rank[e.source] < rank[name]]
        if incoming:
            reach[name] = max(incoming)
    del reach[INPUT]
    return reach


def latency(names: Sequence[str], edges: Sequence[Edge], output: str) -> int:
    """Steps by which `output` lags the input (see `latencies`)."""
    return latencies(names, edges).get(output, 0)


def predecessors(edges: Iterable[Edge], name: str) -> list[Edge]:
    """The edges into `name`, in their given order."""
    return [edge for edge in edges if edge.target == name]


def successors(edges: Iterable[Edge], name: str) -> list[Edge]:
    """The edges out of `name`, in their given order."""
    return [edge for edge in edges if edge.source == name]
