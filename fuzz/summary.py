"""Summaries of a fuzz run: outcome tables, failure signatures and reproducer directories."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fuzz.cases import Template, make_case
from fuzz.corpus import Corpus, Kind

COLUMNS = ("tried", "clean error", "traceback", "hang", "crash", "accepted", "accepted-invalid",
           "data-loss")


def _row(records: list[dict]) -> list[int]:
    counts = Counter(r["outcome"] for r in records)
    return [len(records), counts["clean error"], counts["traceback"], counts["hang"],
            counts["crash"], counts["accepted"], sum(1 for r in records if r["invalid"]),
            sum(1 for r in records if r["data_loss"])]


def outcome_table(records: list[dict], by: str) -> list[tuple[str, list[int]]]:
    """Rows (label, counts in COLUMNS order) grouped by the record field `by`, then a total."""
    labels = sorted({r[by] for r in records}, key=lambda k: (
        [str(x) for x in Kind].index(k) if by == "kind" and k in list(Kind) else 99, k))
    rows = [(label, _row([r for r in records if r[by] == label])) for label in labels]
    return [*rows, ("total", _row(records))]


def render_table(title: str, rows: list[tuple[str, list[int]]]) -> str:
    """A Markdown table."""
    lines = [f"| {title} | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 1)]
    lines += [f"| {label} | " + " | ".join(f"{v:,}" for v in values) + " |" for label, values in rows]
    return "\n".join(lines)


@dataclass
class Group:
    """Cases that failed the same way: outcome and signature, with counts and an example."""

    outcome: str
    signature: str
    count: int = 0
    example: int = -1
    example_kind: str = ""
    kinds: Counter = field(default_factory=Counter)
    commands: Counter = field(default_factory=Counter)
    reproducer: str = ""
    reproduced: str = ""

    def to_json(self) -> dict:
        return {"outcome": self.outcome, "signature": self.signature, "count": self.count,
                "example": self.example, "kinds": dict(self.kinds.most_common()),
                "commands": dict(self.commands.most_common()), "reproducer": self.reproducer,
                "reproduced": self.reproduced}


def _add(groups: dict[tuple[str, str], Group], outcome: str, signature: str, record: dict) -> None:
    group = groups.setdefault((outcome, signature), Group(outcome, signature))
    group.count += 1
    if group.example < 0 or record["index"] < group.example:
        group.example, group.example_kind = record["index"], record["kind"]
    group.kinds[record["kind"]] += 1
    group.commands[record["command"]] += 1


def _reason_class(reason: str) -> str:
    """A reason without its specifics: indices become N, counts are dropped."""
    return re.sub(r"\d+", "N", re.sub(r" \(\d+\)$", "", reason))


def failure_groups(records: Iterable[dict]) -> list[Group]:
    """Tracebacks, crashes and hangs by signature; accepted-invalid and data loss by reason."""
    groups: dict[tuple[str, str], Group] = {}
    for record in records:
        if record["outcome"] in ("traceback", "crash", "hang"):
            signature = record["signature"]
            if record["outcome"] == "hang":
                signature = f"timeout in {record['command']} ({record['kind']})"
            _add(groups, record["outcome"], signature, record)
        for reason in sorted({_reason_class(r) for r in record["invalid"]}):
            _add(groups, "accepted-invalid", reason, record)
        for reason in sorted({re.sub(r" \S+ (changed|deleted)", r" \1", r) for r in
                              record["data_loss"]}):
            _add(groups, "data-loss", f"{reason} by {record['command']}", record)
    return sorted(groups.values(), key=lambda g: (-g.count, g.outcome, g.signature))


def select_for_reproducers(groups: list[Group], top: int) -> list[Group]:
    """The `top` most frequent groups of each outcome (groups are sorted by count)."""
    chosen: list[Group] = []
    for outcome in ("traceback", "crash", "hang", "accepted-invalid", "data-loss"):
        chosen += [g for g in groups if g.outcome == outcome][:top]
    return chosen


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


def save_reproducer(corpus: Corpus, templates: list[Template], seed: int, index: int, kind: Kind,
                    directory: Path, notes: dict) -> None:
    """Write CASE_DIR/in (case `index`'s inputs, regenerated) and CASE_DIR/case.json (its
    command, mutation and `notes`, e.g. the recorded outcome)."""
    if directory.exists():
        shutil.rmtree(directory)
    case = make_case(corpus, templates, seed, index, directory / "in", kind)
    saved = {"outcome": "", "signature": "", **notes, "seed": seed, "index": index,
             "kind": str(case.kind), "command": case.command, "args": list(case.args),
             "mutation": case.mutation, "replay": f"python fuzz/fuzz.py --replay {directory}"}
    (directory / "case.json").write_text(json.dumps(saved, indent=1))


def reproducer_dir(root: Path, rank: int, group: Group) -> Path:
    return root / f"{rank:02d}-{group.outcome.replace(' ', '-')}-{_slug(group.signature)}"


def render_groups(groups: list[Group], outcome: str, limit: int | None = None) -> str:
    """One line per group: count, signature, where it happens, reproducer."""
    chosen = [g for g in groups if g.outcome == outcome][:limit]
    if not chosen:
        return f"(no {outcome} cases)"
    lines = []
    for group in chosen:
        kinds = ", ".join(f"{k} {n}" for k, n in group.kinds.most_common(3))
        commands = ", ".join(f"{c} {n}" for c, n in group.commands.most_common(3))
        lines.append(f"{group.count:6,}  {group.signature}\n        kinds: {kinds}; commands: "
                     f"{commands}\n        reproducer: {group.reproducer or '-'}"
                     + (f" (replayed: {group.reproduced})" if group.reproduced else ""))
    return "\n".join(lines)
