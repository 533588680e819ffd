"""Fuzz every neurodeploy command with mutated files of every kind (issue 10).

    python fuzz/fuzz.py --cases 10000 --workers 2 --seed 0 --out /tmp/report.json
    python fuzz/fuzz.py --replay /tmp/report-cases/01-traceback-...

Builds a small valid corpus, then runs `--cases` deterministic cases (a file kind, a command, one
to three mutations) in worker processes, each case in a fresh working directory in a forked,
memory-limited child with a timeout. Prints the outcome tables per file kind and per command and
the most frequent failure signatures; writes every case to --out and one reproducer per failure
signature to <out stem>-cases/ beside it. --replay reruns a reproducer as a real subprocess.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one intra-op thread per case, before torch loads

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from fuzz.cases import IN, build_templates  # noqa: E402
from fuzz.corpus import Corpus, Kind, build_corpus  # noqa: E402
from fuzz.execute import (  # noqa: E402
    USER_FILES,
    RunResult,
    classify,
    init_worker,
    run_case,
    run_saved_case,
    run_template,
)
from fuzz.summary import (  # noqa: E402
    failure_groups,
    outcome_table,
    render_groups,
    render_table,
    reproducer_dir,
    save_reproducer,
    select_for_reproducers,
)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("fuzz-report.json"),
                        help="JSON report; reproducers go to <stem>-cases/ beside it")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a hang")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit per case")
    parser.add_argument("--kinds", default="", help="comma-separated file kinds (default: all)")
    parser.add_argument("--no-rtl", action="store_true", help="skip simulate --rtl iverilog cases")
    parser.add_argument("--corpus", type=Path, help="corpus directory to reuse or create")
    parser.add_argument("--top", type=int, default=30, help="traceback signatures to list")
    parser.add_argument("--replay", type=Path, metavar="CASE_DIR", help="rerun one reproducer")
    parser.add_argument("--save-case", type=int, metavar="INDEX",
                        help="write case INDEX of --seed (kind: --kinds, else as drawn) to "
                             "<out stem>-cases/case-INDEX, then replay it; pass --no-rtl if the "
                             "run had no RTL cases")
    return parser.parse_args(argv)


def _kinds(text: str) -> list[Kind]:
    """The file kinds of --kinds; case i of a run with kinds gets kinds[i % len(kinds)]."""
    return [Kind(k) for k in text.split(",") if k]


def _limit_memory(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def replay(case_dir: Path, timeout: float, memory_bytes: int) -> int:
    """Rerun a saved case as a real `python -m neurodeploy.cli` subprocess and classify it."""
    saved = json.loads((case_dir / "case.json").read_text())
    with tempfile.TemporaryDirectory(prefix="ndfuzz-replay-") as scratch:
        in_dir, work = Path(scratch) / "in", Path(scratch) / "work"
        shutil.copytree(case_dir / "in", in_dir, symlinks=True)
        for name, content in USER_FILES.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(content)
        argv = [a.replace(IN, str(in_dir)) for a in saved["args"]]
        print(f"case {saved['index']} ({saved['kind']}): {saved['mutation']}")
        print(f"$ cd {work} && neurodeploy {' '.join(argv)}")
        start = time.monotonic()
        try:
            done = subprocess.run([sys.executable, "-m", "neurodeploy.cli", *argv], cwd=work,
                                  capture_output=True, text=True, timeout=timeout,
                                  preexec_fn=lambda: _limit_memory(memory_bytes))
            code = done.returncode
            result = RunResult(code if code >= 0 else None, -code if code < 0 else None, False,
                               done.stdout, done.stderr, time.monotonic() - start)
        except subprocess.TimeoutExpired as exc:
            result = RunResult(None, None, True, str(exc.stdout or ""), str(exc.stderr or ""),
                               timeout)
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    outcome, signature = classify(result)
    print(f"-> {outcome} (exit {result.exit_code}) {signature}")
    print(f"   recorded: {saved['outcome']} {saved['signature']}")
    return 0


def _progress(done: int, total: int, start: float) -> None:
    rate = done / max(time.monotonic() - start, 1e-9)
    print(f"\r{done:,}/{total:,} cases, {rate:.1f}/s", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    """Build the corpus, run the cases, and return the report (also written to --out)."""
    memory = int(args.memory_gb * (1 << 30))
    rtl = not args.no_rtl and shutil.which("iverilog") is not None
    scratch = Path(tempfile.mkdtemp(prefix="ndfuzz-"))
    corpus_root = args.corpus or scratch / "corpus"
    started = time.monotonic()
    corpus = (Corpus.load(corpus_root) if (corpus_root / "corpus.json").is_file()
              else build_corpus(corpus_root))
    templates = build_templates(corpus, rtl)
    print(f"corpus: {len(corpus.seeds)} seeds, {len(templates)} command templates in "
          f"{corpus_root} ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    kinds = _kinds(args.kinds)
    tasks = [(i, str(kinds[i % len(kinds)]) if kinds else None) for i in range(args.cases)]
    context = multiprocessing.get_context("spawn")
    initargs = (str(corpus_root), args.seed, rtl, args.timeout, memory, str(scratch))
    with context.Pool(args.workers, initializer=init_worker, initargs=initargs) as pool:
        baseline = pool.map(run_template, range(len(templates)))
        for row in baseline:
            if row["outcome"] != "accepted":
                print(f"warning: valid template not accepted: {' '.join(row['args'])}: "
                      f"{row['outcome']} {row['stderr_last']}", file=sys.stderr)
        start, records = time.monotonic(), []
        for record in pool.imap_unordered(run_case, tasks, chunksize=4):
            records.append(record)
            if len(records) % 50 == 0 or len(records) == len(tasks):
                _progress(len(records), len(tasks), start)
        print(file=sys.stderr)
        records.sort(key=lambda r: r["index"])
        groups = failure_groups(records)
        cases_root = args.out.parent / f"{args.out.stem}-cases"
        chosen = select_for_reproducers(groups, args.top)
        by_index = {r["index"]: r for r in records}
        for rank, group in enumerate(chosen, 1):
            directory = reproducer_dir(cases_root, rank, group)
            record = by_index[group.example]
            save_reproducer(corpus, templates, args.seed, record["index"], Kind(record["kind"]),
                            directory, {**record, "group": group.signature,
                                        "group_outcome": group.outcome})
            group.reproducer = str(directory)
        replays = pool.map(run_saved_case, [g.reproducer for g in chosen])
        for group, replayed in zip(chosen, replays, strict=True):
            group.reproduced = f"{replayed['outcome']}: {replayed['signature']}"
    report = {
        "settings": {"cases": args.cases, "workers": args.workers, "seed": args.seed,
                     "timeout": args.timeout, "memory_gb": args.memory_gb, "rtl": rtl,
                     "seconds": round(time.monotonic() - started, 1)},
        "baseline": baseline,
        "by_kind": outcome_table(records, "kind"),
        "by_command": outcome_table(records, "command"),
        "groups": [g.to_json() for g in groups],
        "cases": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(render_table("file kind", report["by_kind"]))
    print()
    print(render_table("command", report["by_command"]))
    for outcome in ("traceback", "crash", "hang", "accepted-invalid", "data-loss"):
        total = sum(1 for g in groups if g.outcome == outcome)
        print(f"\n{outcome} signatures ({total}; top {args.top}):")
        print(render_groups(groups, outcome, args.top))
    print(f"\nwrote {args.out} and {cases_root}/ in {report['settings']['seconds']} s")
    shutil.rmtree(scratch, ignore_errors=True)
    return report


def save_case(args: argparse.Namespace) -> Path:
    """Regenerate one case of a run from its seed and index (the corpus is deterministic)."""
    rtl = not args.no_rtl and shutil.which("iverilog") is not None
    with tempfile.TemporaryDirectory(prefix="ndfuzz-") as scratch:
        if args.corpus and (args.corpus / "corpus.json").is_file():
            corpus = Corpus.load(args.corpus)
        else:
            corpus = build_corpus(args.corpus or Path(scratch) / "corpus")
        kinds = _kinds(args.kinds)
        kind = kinds[args.save_case % len(kinds)] if kinds else None
        directory = args.out.parent / f"{args.out.stem}-cases" / f"case-{args.save_case}"
        save_reproducer(corpus, build_templates(corpus, rtl), args.seed, args.save_case, kind,
                        directory, {})
    return directory


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    memory = int(args.memory_gb * (1 << 30))
    if args.save_case is not None:
        args.replay = save_case(args)
    if args.replay is not None:
        return replay(args.replay, args.timeout, memory)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
