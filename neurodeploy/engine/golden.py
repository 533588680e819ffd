"""The golden model: one engine that runs any Program bit for bit, knowing no target.

The engine walks the Program's schedule. A node outside every recurrent loop runs over all time
steps at once: a stateless node maps the whole input sequence, a stateful node steps through
time with its own `step`. The nodes of a loop advance together, one step at a time. A node's
input is the sum of its incoming edges; a delayed edge gives the previous step's value, and at
the first step the source's rest value (zero for a neuron; for a stateless node its value on its
sources' rest values, e.g. a Requantize's bias). Every arithmetic operation is the nodes' own;
the engine only moves integers, chooses dtypes from the Program's bounds (int32 where the bound
proves it safe), and counts: events and sums per neuron node, synaptic operations per weighted
node, updates and saturations.

When the Program lags its input (`latency` > 0, e.g. Loihi's one-step synaptic delays), the input
is followed by `latency` zero steps so the last inputs reach the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from neurodeploy.engine import compiled
from neurodeploy.engine.events import Activity, activity, conv_events, dense_events, event_threshold
from neurodeploy.engine.fused import compiled_kind, run_neuron
from neurodeploy.engine.plan import Chain, plan
from neurodeploy.engine.pooling import sum_pool
from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import INPUT
from neurodeploy.program.formats import Rounding
from neurodeploy.program.graph import Program, window_frame
from neurodeploy.program.node import ProgramNode, SynapseCount, Tally
from neurodeploy.program.synapses import Conv2d, Dense, SumPool2d, exact_float


def _sum_dtype(values: list[np.ndarray], bound: float) -> type:
    if all(v.dtype.kind == "f" for v in values):
        return exact_float(bound) or np.float64
    return np.int32 if bound < (1 << 31) else np.int64


def _output_dtype(bound: float) -> type:
    """int8 for spikes and small counts, else the narrowest exact float (what BLAS consumes)."""
    if bound <= 127:
        return np.int8
    return exact_float(bound) or np.int64


@dataclass
class Carry:
    """Where a run left off: each neuron's state and the last output step `(1, B, *shape)` of
    each source of a delayed edge. A run starting from it continues the sequence exactly."""

    states: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)
    last: dict[str, np.ndarray] = field(default_factory=dict)


class _Run:
    """The state of one simulation: values of finished nodes, and what was counted."""

    def __init__(self, program: Program, record_states: bool, record_outputs: bool,
                 event_driven: bool | None, counts: bool = True, carry: Carry | None = None
                 ) -> None:
        self.program = program
        self.carry = carry or Carry()
        self.final: dict[str, tuple[np.ndarray, ...]] = {}
        self.record_states, self.record_outputs = record_states, record_outputs
        self.count = counts
        self.event_driven = event_driven
        self.values: dict[str, np.ndarray] = {}
        self.states: dict[str, dict[str, np.ndarray]] = {}
        self.synapses: dict[str, SynapseCount] = {}
        self.tallies: dict[str, Tally] = {}
        self.counts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rest: dict[str, np.ndarray] = {}
        self.chains: dict[str, Chain] = {}
        self.inside: set[str] = set()  # the nodes the chains run inside neuron kernels
        self.activity: dict[str, Activity] = {}  # counted for free by the kernels

    def rest(self, name: str) -> np.ndarray:
        """The node's output before the first step, `(1, 1, *shape)` (see the module docstring)."""
        if name not in self._rest:
            program = self.program
            shape = program.input.shape if name == INPUT else program.shapes[name]
            if name == INPUT or program.nodes[name].stateful:
                self._rest[name] = np.zeros((1, 1, *shape), np.int64)
            else:
                inp = sum(self.rest(e.source) for e in program.inputs_of(name))
                value = program.nodes[name].apply(np.asarray(inp, np.int64),
                                                  program.input_bound(name))
                self._rest[name] = np.asarray(value).astype(np.int64)
        return self._rest[name]

    def _previous(self, name: str) -> np.ndarray:
        """The value of `name` before this run's first step: carried over, or its rest value."""
        return self.carry.last[name] if name in self.carry.last else self.rest(name)

    def _start(self, name: str, node: ProgramNode, shape: tuple[int, ...], dtype: type
               ) -> tuple[np.ndarray, ...]:
        """A neuron's state before this run's first step: carried over, or its initial state."""
        return self.carry.states.get(name) or node.initial_state(shape, dtype)

    def _delayed(self, source: str) -> np.ndarray:
        value = self.values[source]
        return np.concatenate([np.broadcast_to(self._previous(source), value[:1].shape).astype(
            value.dtype), value[:-1]])

    def gather(self, name: str) -> np.ndarray:
        """The summed input sequence of `name`, all sources finished."""
        edges = self.program.inputs_of(name)
        parts = [self._delayed(e.source) if e.delay else self.values[e.source] for e in edges]
        if len(parts) == 1:
            return parts[0]
        dtype = _sum_dtype(parts, self.program.input_bound(name))
        total = parts[0].astype(dtype)
        for part in parts[1:]:
            total = total + part.astype(dtype)
        return total

    def run_whole(self, name: str) -> None:
        node = self.program.nodes[name]
        if name in self.inside:
            return  # applied inside the compiled kernel of the neuron it feeds
        if node.stateful and compiled_kind(node) and not self.record_states:
            self.values[name] = self._run_compiled(name, node)
            return
        inp = self.gather(name)
        bound = self.program.input_bound(name)
        if type(node) is Conv2d and self._events(name, node, inp):
            scattered = conv_events(node, inp, bound)
            self.values[name] = scattered.output
            if self.count:
                self._count_known(name, node, scattered.active, scattered.wide, inp)
            return
        if node.weighted and self.count:
            self._synapse_count(name, node, inp)
        if node.stateful:
            self.values[name] = self._step_through(name, node, inp)
        elif type(node) is Dense and self._events(name, node, inp):
            self.values[name] = dense_events(node, inp, bound)
        elif type(node) is SumPool2d:
            self.values[name] = sum_pool(node, inp, bound)
        else:
            self.values[name] = node.apply(inp, bound)

    def _known_input(self, name: str) -> Activity | None:
        """What a kernel counted of the input of `name`, where that input is one undelayed
        edge from a node whose kernel counted it."""
        edges = self.program.inputs_of(name)
        if len(edges) == 1 and not edges[0].delay:
            return self.activity.get(edges[0].source)
        return None

    def _synapse_count(self, name: str, node: ProgramNode, inp: np.ndarray) -> None:
        """The synaptic operations of weighted `node` on `inp`, from what a kernel counted of
        that input where one did, else counted by the node itself."""
        known = self._known_input(name)
        if known is not None and type(node) is Dense:
            self._count_known(name, node, known.nonzero, known.wide, inp)
        else:
            self.synapses[name] = node.synapse_count(inp, self.program.input_bound(name))

    def _count_known(self, name: str, node: Dense | Conv2d, nonzero: int | np.ndarray,
                     wide: bool, inp: np.ndarray) -> None:
        """`node.synapses` from a kernel's count of the non-zero inputs (in all, or per position)
        and whether one is beyond {-1, 1}: accumulate-only unless the bound and that allow it."""
        bound = self.program.input_bound(name)
        self.synapses[name] = node.synapses(nonzero, inp.shape[0] * inp.shape[1],
                                            bound <= 1 or not wide)

    def _events(self, name: str, node: Dense | Conv2d, inp: np.ndarray) -> bool:
        """Event-driven when asked, or (event_driven None) when the input is sparse enough for
        the event path to beat the product `node.apply` would use (its activity as counted by
        the kernel that produced it, else counted here)."""
        if self.event_driven is not None:
            return self.event_driven
        known = self._known_input(name)
        fraction = known.fraction if known is not None else activity(inp)
        return fraction <= event_threshold(node, inp, self.program.input_bound(name))

    def _run_compiled(self, name: str, node: ProgramNode) -> np.ndarray:
        chain = self.chains.get(name, Chain())
        program = self.program
        requantize = program.nodes[chain.requantize] if chain.requantize else None
        head = chain.dense or chain.requantize or name
        inp = self.gather(head)
        dense = None
        if chain.dense is not None:
            node_dense = program.nodes[chain.dense]
            bound = program.input_bound(chain.dense)
            if self._events(chain.dense, node_dense, inp):
                dense = (node_dense, bound)
            else:
                if self.count:
                    self._synapse_count(chain.dense, node_dense, inp)
                inp = node_dense.apply(inp, bound)
        run = run_neuron(node, inp, requantize, self.carry.states.get(name),
                         _output_dtype(program.bounds[name]), dense)
        if dense is not None and self.count:
            self._count_known(chain.dense, dense[0], run.dense_input.nonzero,
                              run.dense_input.wide, inp)
        self.final[name] = run.state
        self.tallies[name] = Tally(updates=run.output[0].size * inp.shape[0],
                                   saturated=run.saturated)
        self.counts[name] = (run.events, run.sums)
        if not node.graded:
            self.activity[name] = Activity(int(run.events.sum()), run.output.size,
                                           bool((run.sums != run.events).any()))
        return run.output

    def _step_through(self, name: str, node: ProgramNode, inp: np.ndarray) -> np.ndarray:
        tally = Tally()
        outputs = np.zeros((*inp.shape[:2], *self.program.shapes[name]),
                           _output_dtype(self.program.bounds[name]))
        state = self._start(name, node, inp.shape[1:], inp.dtype if inp.dtype.kind in "iu"
                            else np.int64)
        records = []
        for t in range(inp.shape[0]):
            outputs[t], state = node.step(state, inp[t], tally)
            if self.record_states:
                records.append(state)
        tally.updates += inp[0].size * inp.shape[0]
        self.tallies[name] = tally
        self.final[name] = state
        if self.record_states:
            self.states[name] = {state_name: np.stack([r[k] for r in records])
                                 for k, state_name in enumerate(node.state_names)}
        return outputs

    def run_stepwise(self, names: tuple[str, ...], steps: int) -> None:
        """Advance the nodes of a loop together, one step at a time."""
        program = self.program
        produced: dict[str, list[np.ndarray]] = {name: [] for name in names}
        seen_inputs: dict[str, list[np.ndarray]] = {name: [] for name in names}
        states: dict[str, tuple] = {}
        tallies = {name: Tally() for name in names if program.nodes[name].stateful}
        records: dict[str, list] = {name: [] for name in names}
        for t in range(steps):
            for name in names:
                node = program.nodes[name]
                inp = self._input_at(name, t, produced)
                seen_inputs[name].append(inp)
                if node.stateful:
                    if name not in states:
                        states[name] = self._start(name, node, inp.shape, np.int64)
                    out, states[name] = node.step(states[name], inp, tallies[name])
                    if self.record_states:
                        records[name].append(states[name])
                else:
                    out = node.apply(inp[None], program.input_bound(name))[0]
                produced[name].append(out)
        for name in names:
            node = program.nodes[name]
            self.values[name] = np.stack(produced[name])
            if node.weighted and self.count:
                self.synapses[name] = node.synapse_count(np.stack(seen_inputs[name]),
                                                         program.input_bound(name))
            if node.stateful:
                self.final[name] = states[name]
                tallies[name].updates += self.values[name][0].size * steps
                self.tallies[name] = tallies[name]
                if self.record_states:
                    self.states[name] = {s: np.stack([r[k] for r in records[name]])
                                         for k, s in enumerate(node.state_names)}

    def _input_at(self, name: str, t: int, produced: dict[str, list[np.ndarray]]) -> np.ndarray:
        total = None
        batch = self.values[INPUT].shape[1]
        for edge in self.program.inputs_of(name):
            step = t - edge.delay
            if step < 0:
                rest = self._previous(edge.source)[0]
                value = np.broadcast_to(rest, (batch, *rest.shape[1:]))
            elif edge.source in produced:
                value = produced[edge.source][step]
            else:
                value = self.values[edge.source][step]
            value = value.astype(np.int64) if value.dtype.kind == "f" else value.astype(
                np.int64, copy=False)
            total = value if total is None else total + value
        return total


def quantize_input(program: Program, x: np.ndarray, tally: Tally
                   ) -> tuple[np.ndarray, Activity]:
    """`program.input.quantize(x, tally)`, compiled: the same float64 rounding, in parallel;
    and the activity of the result."""
    fmt = program.input
    if fmt.window:
        x = window_frame(x)[None]
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.size, np.float32)
    with compiled.threads_for(flat.size):
        jobs = 4 * numba.get_num_threads()
        saturated, seen, wide = (np.zeros(jobs, np.int64) for _ in range(3))
        compiled.quantize_run(flat, float(fmt.scale), fmt.rounding is Rounding.HALF_EVEN,
                              float(1 << (fmt.bits - 1)), out, saturated, seen, wide)
    tally.updates += flat.size
    tally.saturated += int(saturated.sum())
    return out.reshape(x.shape), Activity(int(seen.sum()), flat.size, bool(wide.any()))


def simulate_program(program: Program, x: np.ndarray, record_states: bool = False,
                     record_outputs: bool = False, event_driven: bool | None = None,
                     counts: bool = True) -> SimulationResult:
    """Run `program` on real-valued time-major input `x` `(T, B, *input_shape)`.

    `event_driven`: accumulate only the non-zero inputs of Dense nodes (True), never (False), or
    per node where the measured activity is below `EVENT_ACTIVITY` (None); same results.
    `counts=False` skips the synaptic-operation counts (`result.synapses` stays empty)."""
    lag = program.latency
    if lag:
        x = np.concatenate([x, np.zeros((lag, *x.shape[1:]), dtype=x.dtype)])
    return execute(program, x, record_states, record_outputs, event_driven, counts)[0]


def execute(program: Program, x: np.ndarray, record_states: bool = False,
            record_outputs: bool = False, event_driven: bool | None = None, counts: bool = True,
            carry: Carry | None = None) -> tuple[SimulationResult, Carry]:
    """`simulate_program` without the latency padding, continuing from `carry` (a fresh start
    when None); returns the result and where the run left off."""
    chains = plan(program)
    run = _Run(program, record_states, record_outputs, event_driven, counts, carry)
    if not (record_states or record_outputs):
        run.chains = chains
        run.inside = {name for chain in chains.values() for name in chain.names}
    run.tallies[INPUT] = Tally()  # inputs beyond the input format saturate too
    run.values[INPUT], run.activity[INPUT] = quantize_input(program, x, run.tallies[INPUT])
    steps = x.shape[0]
    for group in program.schedule:
        if group.stepwise:
            run.run_stepwise(group.names, steps)
        else:
            run.run_whole(group.names[0])
    events, spikes, graded, outputs = {}, {}, set(), {}
    for name in program.order:
        node = program.nodes[name]
        if not node.stateful and name not in run.values:
            continue  # fused into its neuron
        value = run.values[name]
        if record_outputs:
            outputs[name] = value.astype(np.float64) * node.output_scale
        if not node.stateful:
            continue
        flat = value.reshape(*value.shape[:2], -1)
        if name in run.counts and not node.graded:
            events[name] = run.counts[name][0]
            spikes[name] = run.counts[name][1].astype(np.float64)
            continue
        events[name] = run.counts[name][0] if name in run.counts else (flat != 0).sum(axis=2)
        if node.graded:
            graded.add(name)
            spikes[name] = (flat.astype(np.float64) * np.reshape(node.output_scale, -1)).sum(axis=2)
        else:
            spikes[name] = flat.sum(axis=2).astype(np.float64)
    final = run.values[program.output]
    flat = final.reshape(*final.shape[:2], -1).astype(np.float64)
    output = flat * np.reshape(program.output_node.output_scale, -1) if program.output_is_graded \
        else flat
    result = SimulationResult(output.astype(np.float32), events, spikes, run.states, outputs,
                              run.synapses, run.tallies, frozenset(graded), program.latency)
    delayed = {e.source for e in program.edges if e.delay}
    return result, Carry(run.final, {name: run.values[name][-1:] for name in delayed})
