"""The fusion plan of a Program for the golden engine, checked and built once per Program.

`plan(program)` refuses a Program the engine cannot compute exactly (`require_exact`) and lists,
per compiled neuron, the stateless nodes its kernel runs inside it (`Chain`): the Requantize
that is its only input and the Dense that is the Requantize's only input, each feeding nothing
else, so that their outputs are never written out.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

from neurodeploy.engine.fused import compiled_kind
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir.graph import INPUT
from neurodeploy.program.graph import Program
from neurodeploy.program.synapses import Dense, Requantize

EXACT_LIMIT = 1 << 60
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Chain:
    """The stateless nodes run inside a compiled neuron's kernel: the Requantize that is its
    only input, and the Dense that is the Requantize's only input (event-driven when its input
    is sparse, else its product is formed first), each feeding nothing else."""

    requantize: str | None = None
    dense: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name in (self.dense, self.requantize) if name is not None)


def plan(program: Program) -> dict[str, Chain]:
    """Checked once per Program (`require_exact`), then kept: per compiled neuron, the chain of
    stateless nodes its kernel applies (`Chain`)."""
    if program in _PLANS:
        return _PLANS[program]
    require_exact(program)
    chains = {}
    for name in program.order:
        if compiled_kind(program.nodes[name]):
            requantize = _sole_feeder(program, name, Requantize)
            dense = _sole_feeder(program, requantize, Dense) if requantize else None
            if requantize:
                chains[name] = Chain(requantize, dense)
    _PLANS[program] = chains
    return chains


def _sole_feeder(program: Program, name: str, kind: type) -> str | None:
    """The node of exactly class `kind` that is the only, undelayed input of `name` and feeds
    nothing else (and is not the program's output), or None."""
    edges = program.inputs_of(name)
    if len(edges) != 1 or edges[0].delay or edges[0].source == INPUT:
        return None
    source = edges[0].source
    if (type(program.nodes[source]) is not kind or source == program.output
            or [e.target for e in program.edges if e.source == source] != [name]):
        return None
    return source


def require_exact(program: Program) -> None:
    """Refuse a Program whose node inputs can reach 2^60: the kernels are exact below 2^61, and
    int64 sums of inputs below 2^60 cannot overflow."""
    for name in program.order:
        bound = program.input_bound(name)
        if bound >= EXACT_LIMIT:
            raise UnsupportedModelError(
                f"node '{name}': its input can reach 2^{math.log2(bound):.0f}, beyond the 2^60 the "
                "integer engine computes exactly; use fewer weight or state bits")
