"""NIR dialects: how each producer's files are meant, and how to recognise the producer.

NIR 1.0.8 nodes are continuous-time and carry no dt; every tool discretises, resets and fires in
its own way and records little of it. A Dialect states those choices so a file can be read as
its producer runs it. `nir` reads the specification literally.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import nir
import numpy as np

from neurodeploy.errors import NeurodeployWarning, UnsupportedModelError


@dataclass(frozen=True)
class Dialect:
    """How a producer of NIR files means its neuron nodes.

    Discretisation: forward Euler at `dt` (decay 1 - dt/tau, input gain r dt/tau for LIF/LI;
    r dt for IF). Reset: `reset` ("subtract" or "zero", to v_reset = 0), `reset_delay` (the
    reset acts one step after the spike). Spikes: `spike` ("single" or "multi"), `strict`
    (v > threshold rather than >=). `floor_at_minus_threshold`: IF membranes never go below
    -threshold (unless `min_v` names the floor). `unit_gain`: the producer's r is meant to give
    an input gain of exactly 1.
    """

    name: str
    dt: float
    reset: str
    reset_delay: bool
    spike: str
    strict: bool
    floor_at_minus_threshold: bool
    unit_gain: bool
    description: str
    min_v: float | None = None  # an explicit IF membrane floor, overriding the dialect's


DIALECTS: dict[str, Dialect] = {
    "nir": Dialect("nir", 1.0, "zero", False, "single", True, False, False,
                   "NIR 1.0.8 read literally: forward Euler at dt (default 1), one spike when "
                   "v > v_threshold, reset to v_reset in the same step"),
    "snntorch": Dialect("snntorch", 1e-4, "subtract", True, "single", True, False, True,
                        "snnTorch Leaky: beta = 1 - dt/tau with dt = 1e-4, reset by subtraction "
                        "one step after the spike (its default), strict threshold"),
    "sinabs": Dialect("sinabs", 1.0, "subtract", False, "multi", False, True, True,
                      "sinabs IAF as from_nir builds it: MultiSpike, reset by subtraction, fires "
                      "at v >= threshold, membrane floored at -threshold"),
}


def resolve_dialect(name: str | None, reset: str | None = None, dt: float | None = None,
                    spike: str | None = None, min_v: float | None = None) -> Dialect:
    """The named dialect ("nir" for None) with explicit overrides applied."""
    key = name or "nir"
    if key not in DIALECTS:
        raise UnsupportedModelError(f"unknown dialect {name!r}; choose one of "
                                    f"{', '.join(sorted(DIALECTS))}")
    dialect = DIALECTS[key]
    if reset is not None:
        if reset not in ("subtract", "zero"):
            raise UnsupportedModelError(f"--reset must be subtract or zero, got {reset!r}")
        dialect = replace(dialect, reset=reset)
    if dt is not None:
        if not dt > 0:
            raise UnsupportedModelError(f"--dt must be positive, got {dt}")
        dialect = replace(dialect, dt=float(dt))
    if spike is not None:
        if spike not in ("single", "multi"):
            raise UnsupportedModelError(f"--spike must be single or multi, got {spike!r}")
        dialect = replace(dialect, spike=spike, strict=dialect.strict and spike == "single")
    if min_v is not None:
        if not np.isfinite(min_v) or min_v > 0:
            raise UnsupportedModelError(f"--min-v must be a finite number <= 0, got {min_v}")
        dialect = replace(dialect, min_v=float(min_v))
    return dialect


def detect_producer(graph: nir.NIRGraph) -> str | None:
    """Recognise the tool that wrote `graph` from its metadata and parameter patterns."""
    if isinstance(graph.metadata, dict) and graph.metadata.get("producer") == "neurodeploy":
        return "neurodeploy"
    nodes = list(graph.nodes.values())
    lifs = [n for n in nodes if isinstance(n, nir.LIF)]
    ifs = [n for n in nodes if isinstance(n, nir.IF)]
    if lifs and all(np.allclose(np.asarray(n.r) * 1e-4 / np.asarray(n.tau), 1.0, rtol=1e-3)
                    for n in lifs):
        return "snntorch"  # tau = 1e-4 / (1 - beta), r = tau / 1e-4
    if ifs and not lifs and all(np.all(np.asarray(n.r) == 1) and np.all(np.asarray(n.v_reset) == 0)
                                for n in ifs):
        return "sinabs"  # to_nir writes IF(r=1, v_threshold), v_reset filled as 0
    return None


def announce(path: object, producer: str | None, requested: str | None, overrides: dict) -> None:
    """Warn about what the file looks like and about choices its producer did not record."""
    if producer and requested is None:
        warnings.warn(f"{path} looks like a {producer} file; reading it literally as NIR 1.0.8 "
                      f"(pass --dialect {producer} to reproduce {producer})", NeurodeployWarning,
                      stacklevel=3)
    elif producer and requested != producer:
        warnings.warn(f"{path} looks like a {producer} file, not {requested}", NeurodeployWarning,
                      stacklevel=3)
    if requested == "snntorch" and overrides.get("reset") is None:
        warnings.warn("snnTorch's exporter does not record the reset mechanism; assuming its "
                      "default, subtract (pass --reset zero for reset_mechanism='zero')",
                      NeurodeployWarning, stacklevel=3)
    if requested == "sinabs" and overrides.get("spike") is None:
        warnings.warn("sinabs's exporter does not record the spike function; assuming "
                      "MultiSpike, as sinabs.from_nir does (pass --spike single for SingleSpike)",
                      NeurodeployWarning, stacklevel=3)
    if requested == "sinabs" and overrides.get("min_v") is None and overrides.get("thresholds"):
        warnings.warn("sinabs's exporter drops min_v_mem; reading the file as sinabs.from_nir "
                      "does, with each membrane floored at -threshold, although thresholds here "
                      "are not 1 and a network built by sinabs.from_model floors at -1 (pass "
                      "--min-v -1, or the floor your model had)", NeurodeployWarning, stacklevel=3)
