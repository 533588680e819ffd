"""Fuzz cases: valid command templates over the corpus, and one mutated case per index.

A case is fully determined by (seed, index) and the corpus: `make_case` draws a file kind, a
command template that reads a file of that kind, and one to three mutations of that file (or,
for the `options` kind, a hostile command-line option), and writes the case's inputs into a
directory. Re-running `make_case` with the same arguments writes the same inputs, which is how
reproducers are saved.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from fuzz.corpus import ANN_KINDS, MANIFEST_NAME, MODEL_KINDS, Corpus, Kind
from fuzz.mutators import Mutation, mutate_bytes, mutate_directory, mutate_path

IN = "{in}"  # stands for the case's input directory in template arguments
RTL_WEIGHT = 0.15  # RTL co-simulation takes seconds: draw it less often than other templates


@dataclass(frozen=True)
class Template:
    """A valid command over corpus inputs; `command` is its label in the tables."""

    command: str
    args: tuple[str, ...]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """One mutated run: its template, what was mutated and how, and what the checks need.

    `args` still contain "{in}"; `nonfinite` says the mutation put NaN or inf into an input on
    purpose; `manifest_violation` that an artifact directory read as a directory no longer
    matches its manifest (see `fails_manifest`).
    """

    index: int
    kind: Kind
    command: str
    args: tuple[str, ...]
    inputs: tuple[str, ...]
    mutated: str
    mutation: str
    nonfinite: bool
    manifest_violation: bool

    def argv(self, in_dir: Path) -> list[str]:
        """The command line with the input directory filled in."""
        return [a.replace(IN, str(in_dir)) for a in self.args]


def _model_templates(corpus: Corpus) -> list[Template]:
    out: list[Template] = []
    for seed in corpus.seeds:
        model = f"{IN}/{seed.name}"
        dialect = ("--dialect", seed.dialect) if seed.dialect else ()
        if seed.kind in MODEL_KINDS:
            data = f"{IN}/{seed.data}"
            both = (seed.name, seed.data)
            out.append(Template("simulate", ("simulate", model, "--input", data, "-o", "y.npz",
                                             *dialect), both))
            if seed.static:
                out.append(Template("simulate", ("simulate", model, "--input", f"{IN}/{seed.static}",
                                                 "--timesteps", "5", *dialect),
                                    (seed.name, seed.static)))
            out += [Template(f"convert {t}", ("convert", model, "--target", t, "--data", data, "-o",
                                              "out", *dialect), both) for t in seed.targets]
            out.append(Template("report", ("report", model, "--data", data, "--bits", "4,8", "-o",
                                           "rep", *dialect), both))
        elif seed.kind in ANN_KINDS:
            static = f"{IN}/{seed.static}"
            both = (seed.name, seed.static)
            for suffix in ("pt", "nir"):
                out.append(Template("ann2snn", ("ann2snn", model, "--data", static, "--timesteps", "8",
                                                "-o", f"snn.{suffix}"), both))
            out += [Template(f"convert {t}", ("convert", model, "--target", t, "--data", static,
                                              "--timesteps", "8", "-o", "out"), both)
                    for t in seed.targets]
    return out


def build_templates(corpus: Corpus, rtl: bool = False) -> list[Template]:
    """Every valid command over the corpus; `rtl` adds `simulate --rtl iverilog` templates."""
    out = _model_templates(corpus)
    for seed in corpus.seeds:
        data = f"{IN}/{seed.data}"
        both = (seed.name, seed.data)
        if seed.kind in (Kind.DIR_SIM, Kind.DIR_LOIHI, Kind.NETX, Kind.DIR_FPGA):
            out.append(Template("simulate", ("simulate", f"{IN}/{seed.name}", "--input", data, "-o",
                                             "y.npz"), both))
        if seed.kind == Kind.DIR_LOIHI:
            out.append(Template("simulate", ("simulate", f"{IN}/{seed.name}/model.net", "--input",
                                             data, "-o", "y.npz"), both))
        if seed.kind == Kind.DIR_FPGA and rtl:
            out.append(Template("simulate --rtl", ("simulate", f"{IN}/{seed.name}", "--input", data,
                                                   "--rtl", "iverilog", "-o", "y.npz"), both))
    out += [Template("targets", ("targets",), ()), Template("targets", ("targets", "--json"), ())]
    return out


# ----------------------------------------------------------------------------- options

COMMAND_OPTIONS = {
    "simulate": ("--timesteps", "--encoding", "--dialect", "--reset", "--dt", "--spike", "--rtl",
                 "-o", "--input"),
    "convert": ("--target", "-o", "--data", "--timesteps", "--weight-bits", "--lanes",
                "--multi-chip", "--dialect", "--reset", "--dt", "--spike", "--json"),
    "report": ("--data", "--target", "--bits", "-o", "--timesteps", "--dialect", "--reset", "--dt",
               "--spike"),
    "ann2snn": ("--data", "-o", "--timesteps", "--spike", "--encoding", "--percentile", "--json"),
    "targets": ("--json",),
}
FLAGS = ("--multi-chip", "--json")
OPTION_VALUES = {
    "--timesteps": ("0", "-1", "-5", "1000000", "1000000000", str(2**63), "x", "1.5", ""),
    "--weight-bits": ("0", "1", "-1", "2", "17", "32", "33", "64", "1000"),
    "--lanes": ("0", "-1", "1", "3", "1000", "1000000"),
    "--bits": (",", "", "0", "-1", "1", "2,,4", "100", "64", "a,b", "8,8,8", "2,"),
    "--percentile": ("200", "-5", "0", "100", "nan", "inf", "-inf", "1e-9"),
    "--dt": ("0", "-1", "nan", "inf", "-inf", "1e308", "1e-308"),
    "--target": ("akida", "bogus", "", "sim", "loihi", "fpga"),
    "--encoding": ("rate", "latency", "direct", "bogus"),
    "--spike": ("single", "multi", "bogus"),
    "--reset": ("subtract", "zero", "bogus"),
    "--dialect": ("nir", "snntorch", "sinabs", "bogus"),
    "--rtl": ("iverilog", "bogus"),
    "-o": (".", "", "..", IN, "{input}", "precious.txt", "existing", "deep/er/out", "y.txt",
           "x" * 300, "snn.txt"),
    "--input": (IN, "{input}", "missing.npz", f"{IN}/empty.npz", "precious.txt"),
    "--data": (IN, "{input}", "missing.npz", f"{IN}/empty.npz", "precious.txt"),
}
NONFINITE_TEXT = ("nan", "inf", "-inf")
FILE_OUTPUTS = ("simulate", "ann2snn")  # -o names a file: writing over a named file is expected


def mutate_options(template: Template, rng: random.Random) -> tuple[tuple[str, ...], str, bool]:
    """A hostile edit of the command line: one option set to a bad value, a required argument
    dropped, an unknown option or an extra argument. Returns (args, description, nonfinite)."""
    args = list(template.args)
    name = args[0]
    op = rng.choice(["set"] * 8 + ["drop", "unknown", "extra"])
    if op == "drop" and len(args) > 1:
        i = rng.randrange(1, len(args))
        removed = args[i:i + 2] if args[i].startswith("-") and args[i] not in FLAGS else args[i:i + 1]
        del args[i:i + len(removed)]
        return tuple(args), f"dropped {' '.join(removed)[:60]}", False
    if op == "unknown":
        return (*args, "--bogus"), "added --bogus", False
    if op == "extra":
        return (*args, "extra.npz"), "added an extra argument", False
    option = rng.choice(COMMAND_OPTIONS[name])
    if option in FLAGS:
        return (*args, option), f"added {option}", False
    inputs = [a for a in args if a.startswith(IN)]
    values = OPTION_VALUES[option]
    if option == "-o" and name in FILE_OUTPUTS:
        values = tuple(v for v in values if v != "precious.txt")
    value = rng.choice(values)
    if value == "{input}":
        value = rng.choice(inputs) if inputs else IN
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    return tuple(args), f"{option} {value[:40]!r}", value in NONFINITE_TEXT


# ----------------------------------------------------------------------------- cases

def copy_inputs(corpus: Corpus, names: tuple[str, ...], in_dir: Path) -> None:
    """Copy the named corpus inputs (and an empty file, empty.npz) into `in_dir`."""
    in_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = corpus.path(name)
        if source.is_dir():
            shutil.copytree(source, in_dir / name)
        else:
            shutil.copyfile(source, in_dir / name)
    (in_dir / "empty.npz").write_bytes(b"")


def _mutate_input(path: Path, rng: random.Random, donors: list[Path]) -> Mutation:
    """One to three mutations of a file (byte-level only once one damaged it below its format),
    or one mutation of a directory."""
    if path.is_dir():
        return mutate_directory(path, rng, donors)
    mutation = mutate_path(path, rng)
    for _ in range(rng.choices([0, 1, 2], weights=[75, 20, 5])[0]):
        step = mutate_bytes(path, rng) if mutation.raw else mutate_path(path, rng)
        mutation = mutation.then(step)
    return mutation


def _choose(templates: list[Template], rng: random.Random) -> Template:
    weights = [RTL_WEIGHT if t.command == "simulate --rtl" else 1.0 for t in templates]
    return rng.choices(templates, weights=weights)[0]


def make_case(corpus: Corpus, templates: list[Template], seed: int, index: int, in_dir: Path,
              kind: Kind | None = None) -> Case:
    """Draw case `index` of run `seed` and write its (mutated) inputs into `in_dir`.

    `kind` forces the file kind (otherwise drawn uniformly over all kinds); forcing the kind a
    case drew anyway gives the same case.
    """
    rng = random.Random(f"neurodeploy-fuzz:{seed}:{index}")
    drawn = Kind(rng.choice(list(Kind)))  # drawn even when forced, so the rest stays the same
    chosen_kind = drawn if kind is None else kind
    if chosen_kind == Kind.OPTIONS:
        template = _choose(templates, rng)
        copy_inputs(corpus, template.inputs, in_dir)
        args, description, nonfinite = mutate_options(template, rng)
        return Case(index, chosen_kind, template.command, args, template.inputs, "",
                    f"options: {description}", nonfinite, False)
    candidates = [t for t in templates if any(corpus.seed(n).kind == chosen_kind for n in t.inputs)]
    template = _choose(candidates, rng)
    copy_inputs(corpus, template.inputs, in_dir)
    target = rng.choice([n for n in template.inputs if corpus.seed(n).kind == chosen_kind])
    donors = [corpus.path(s.name) for s in corpus.seeds
              if corpus.path(s.name).is_dir() and s.name != target]
    mutation = _mutate_input(in_dir / target, rng, donors)
    as_directory = corpus.path(target).is_dir() and template.args[1] == f"{IN}/{target}"
    has_manifest = (corpus.path(target) / MANIFEST_NAME).is_file()
    return Case(index, chosen_kind, template.command, template.args, template.inputs, target,
                mutation.description, mutation.nonfinite,
                as_directory and has_manifest and fails_manifest(in_dir / target))


def fails_manifest(directory: Path) -> bool:
    """True when `directory` no longer matches its manifest, checked here independently of
    neurodeploy: the manifest does not read as {"files": {path: sha256 hex}}, or the entries
    other than directories and the manifest are not exactly the listed paths, or a listed path
    is not a regular file with that sha256.

    The manifest vouches for the listed files' bytes only. A mutation that leaves every listed
    file as recorded (an edit of the writer's version string, swapping two equal lines) leaves a
    directory that still matches, however its bytes differ from the original's.
    """
    try:
        files = json.loads((directory / MANIFEST_NAME).read_bytes())["files"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        return True
    if not isinstance(files, dict) or not all(isinstance(d, str) for d in files.values()):
        return True
    try:
        if set(_entries(directory)) != set(files):
            return True
        return any(path.is_symlink() or not path.is_file()
                   or hashlib.sha256(path.read_bytes()).hexdigest() != digest
                   for path, digest in ((directory / n, d) for n, d in files.items()))
    except (OSError, ValueError):  # unreadable, or a name the file system refuses
        return True


def _entries(directory: Path, prefix: str = "") -> list[str]:
    """Relative posix paths of every entry but directories and the top-level manifest,
    symlinks not followed."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                found += _entries(Path(entry.path), f"{prefix}{entry.name}/")
            elif f"{prefix}{entry.name}" != MANIFEST_NAME:
                found.append(f"{prefix}{entry.name}")
    return found
