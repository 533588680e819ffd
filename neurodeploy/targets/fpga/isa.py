"""The datapath's instruction set and its golden interpreter.

The datapath holds every vector in one memory `V` of signed DW-bit words in a shared Qm.n
format, weights in a ROM of LANES-wide words, biases and vector constants in a 32-bit ROM `B`,
and lookup tables in a ROM `L`. Once per time step it runs the instruction list to END. Every
instruction works element by element (j = 0 .. n-1), except MV which uses LANES multipliers.

    MV     V[dst+o] = sat(rnd(B[bias+o] + sum_k W[o,k] V[a+k], shift))     o < n, k < m
    ADD    V[dst+j] = sat(V[a+j] + V[b+j])          SUB   V[dst+j] = sat(V[a+j] - V[b+j])
    MUL    V[dst+j] = sat(rnd(V[a+j] * V[b+j], shift))
    MULC   V[dst+j] = sat(rnd(V[a+j] * const, shift))
    ADDC   V[dst+j] = sat(V[a+j] + B[bias+j])
    LUT    V[dst+j] = L[base + clamp((V[a+j] >>> shift) + const, 0, bias - 1)]
    SELGT  V[dst+j] = const2 if V[a+j] > const else const3
    RELU   V[dst+j] = max(V[a+j], 0)            COPY  V[dst+j] = V[a+j]
    IN     V[dst+j] = input[t][j]               OUT   emit V[a+j]
    END    end of the time step

rnd(x, s) = (x + 2^(s-1)) >>> s (round half up; x for s = 0); sat clips to DW bits; >>> is an
arithmetic shift (floor). Accumulators are ACCW = 48 bits wide and cannot overflow for
DW <= 16 and m <= 4096. The generated Verilog implements exactly these semantics; the tests
compare both on every op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.program.formats import saturate, shift_round

OPCODES = {"END": 0, "MV": 1, "ADD": 2, "SUB": 3, "MUL": 4, "MULC": 5, "ADDC": 6, "LUT": 7,
           "SELGT": 8, "RELU": 9, "COPY": 10, "IN": 11, "OUT": 12}
OPCODE_NAMES = {code: name for name, code in OPCODES.items()}
# (name, width, signed) from the least significant bit; 160-bit instruction words
FIELDS = (("op", 4, False), ("dst", 12, False), ("a", 12, False), ("b", 12, False),
          ("n", 12, False), ("m", 12, False), ("base", 16, False), ("bias", 16, False),
          ("shift", 6, False), ("const", 18, True), ("const2", 18, True), ("const3", 18, True))
WORD_BITS = 160
ACC_BITS = 48


@dataclass(frozen=True)
class Instr:
    """One instruction; field meanings per op in the module docstring."""

    op: str
    dst: int = 0
    a: int = 0
    b: int = 0
    n: int = 0
    m: int = 0
    base: int = 0
    bias: int = 0
    shift: int = 0
    const: int = 0
    const2: int = 0
    const3: int = 0

    def row(self) -> list[int]:
        """The instruction as integers in FIELDS order (the opcode first)."""
        return [OPCODES[self.op] if name == "op" else getattr(self, name) for name, _, _ in FIELDS]

    @classmethod
    def from_row(cls, row: list[int]) -> Instr:
        names = [name for name, _, _ in FIELDS]
        values = dict(zip(names, (int(v) for v in row), strict=True))
        values["op"] = OPCODE_NAMES[values["op"]]
        return cls(**values)

    def encode(self) -> int:
        """The 160-bit instruction word."""
        word, position = 0, 0
        for name, width, signed in FIELDS:
            value = OPCODES[self.op] if name == "op" else getattr(self, name)
            low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
            if not low <= value <= high:
                raise ValueError(f"{self.op}: field {name}={value} does not fit {width} bits")
            word |= (value & ((1 << width) - 1)) << position
            position += width
        return word


@dataclass(eq=False)
class Memories:
    """The datapath's ROM contents (logical form: one matrix per MV, by weight base)."""

    matrices: dict[int, np.ndarray]  # weight base -> int matrix (rows, cols)
    bias: np.ndarray  # int64, B ROM
    luts: np.ndarray  # int64, L ROM
    data_bits: int
    vector_words: int


def step_program(program: list[Instr], memories: Memories, V: np.ndarray, inputs: np.ndarray,
                 outputs: list[np.ndarray]) -> None:
    """Run one time step on V `(B, words)` in place; `inputs` is `(B, n_in)`."""
    bits = memories.data_bits
    for ins in program:
        op, n = ins.op, ins.n
        dst = slice(ins.dst, ins.dst + n)
        a = V[:, ins.a:ins.a + n]
        if op == "END":
            return
        if op == "MV":
            weight = memories.matrices[ins.base]
            source = V[:, ins.a:ins.a + ins.m].astype(np.float64)
            acc = (source @ weight.T.astype(np.float64)).astype(np.int64)  # exact: < 2^53
            acc = acc + memories.bias[ins.bias:ins.bias + n]
            V[:, dst] = saturate(shift_round(acc, ins.shift), bits)
        elif op in ("ADD", "SUB", "MUL"):
            b = V[:, ins.b:ins.b + n]
            value = a + b if op == "ADD" else a - b if op == "SUB" else shift_round(a * b, ins.shift)
            V[:, dst] = saturate(value, bits)
        elif op == "MULC":
            V[:, dst] = saturate(shift_round(a * ins.const, ins.shift), bits)
        elif op == "ADDC":
            V[:, dst] = saturate(a + memories.bias[ins.bias:ins.bias + n], bits)
        elif op == "LUT":
            index = np.clip((a >> ins.shift) + ins.const, 0, ins.bias - 1)
            V[:, dst] = memories.luts[ins.base + index]
        elif op == "SELGT":
            V[:, dst] = np.where(a > ins.const, ins.const2, ins.const3)
        elif op == "RELU":
            V[:, dst] = np.maximum(a, 0)
        elif op == "COPY":
            V[:, dst] = a.copy()
        elif op == "IN":
            V[:, dst] = inputs[:, :n]
        elif op == "OUT":
            outputs.append(a.copy())
        else:
            raise ValueError(f"unknown op {op}")
