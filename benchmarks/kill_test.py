"""SIGKILL `neurodeploy convert` while it replaces an existing output; count what is left.

    python benchmarks/kill_test.py [--kills 20] [--seed 0] [--late 0.0] [--targeted] [--fallback]

An old output (`--target loihi`) sits at OUT; each run converts the same model for `--target sim`
into OUT and is killed after a random delay, uniform over [late, 1.05] x the duration of an
unkilled run; with `--targeted`, uniform over [0, 1.2] x the time an unkilled run's staging
directory (`.OUT.*`) exists, counted from the moment it appears, so the kills land while OUT is
written and swapped. After each kill OUT is compared byte for byte with the complete old and the
complete new output: `old`, `new`, or `broken` (anything else, including a missing OUT). Staging
and aside directories (`.OUT.*`) present after the kill are counted; one unkilled run at the
end must leave none. `--fallback` replaces renameat2(RENAME_EXCHANGE) by rename-aside, as on
systems without it (a missing OUT there is restored by the next run: `broken` counts it, and
`restored` counts how often an unkilled run after a `broken` one wrote the new output).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "models" / "digits_lif.pt"
DATA = ROOT / "examples" / "data" / "digits_test.npz"
FALLBACK = ("import sys, neurodeploy.artifacts.outputs as a; a._exchange = lambda *_: False; "
            "from neurodeploy.cli import main; sys.argv[0] = 'neurodeploy'; main()")


def snapshot(root: Path) -> dict[str, bytes | None] | None:
    if not root.is_dir():
        return None
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def staging(parent: Path) -> set[str]:
    return {p.name for p in parent.iterdir() if p.name.startswith(".out.")}


def wait_for_staging(process: subprocess.Popen, parent: Path, earlier: set[str],
                     present: bool = True) -> float:
    """Poll until a staging directory of OUT not in `earlier` is present (or gone), or the run
    ended; the time."""
    while process.poll() is None and bool(staging(parent) - earlier) != present:
        time.sleep(0.0002)
    return time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--late", type=float, default=0.0,
                        help="earliest kill as a fraction of the run's duration")
    parser.add_argument("--targeted", action="store_true",
                        help="kill only after the staging directory appeared")
    parser.add_argument("--fallback", action="store_true",
                        help="swap by rename-aside instead of renameat2(RENAME_EXCHANGE)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="nd-kill-"))
    try:
        with np.load(DATA) as data:
            np.savez(work / "data.npz", x=data["x"][:, :128], y=data["y"][:128])
        entry = ["-c", FALLBACK] if args.fallback else ["-m", "neurodeploy.cli"]

        def command(target: str, out: Path) -> list[str]:
            return [sys.executable, *entry, "convert", str(MODEL), "--target", target, "--data",
                    str(work / "data.npz"), "-o", str(out)]

        for target in ("loihi", "sim"):
            subprocess.run(command(target, work / target), check=True, capture_output=True)
        old, new = snapshot(work / "loihi"), snapshot(work / "sim")
        out = work / "out"
        shutil.copytree(work / "loihi", out)
        start = time.monotonic()
        process = subprocess.Popen(command("sim", out), stdout=subprocess.DEVNULL)
        staged = wait_for_staging(process, work, set())
        window = 1.2 * (wait_for_staging(process, work, set(), present=False) - staged)
        if process.wait() != 0:
            raise SystemExit("the unkilled run failed")
        duration = time.monotonic() - start
        counts = {"old": 0, "new": 0, "broken": 0, "restored": 0, "kills leaving leftovers": 0}
        previous = None
        for _ in range(args.kills):
            if previous != "old":
                shutil.rmtree(out, ignore_errors=True)
                shutil.copytree(work / "loihi", out)
            earlier = staging(work)  # a killed run's leftovers, until this run removes them
            process = subprocess.Popen(command("sim", out), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            if args.targeted:
                wait_for_staging(process, work, earlier)
                time.sleep(rng.uniform(0, window))
            else:
                time.sleep(rng.uniform(args.late, 1.05) * duration)
            process.send_signal(signal.SIGKILL)
            process.wait()
            found = snapshot(out)
            previous = "old" if found == old else "new" if found == new else "broken"
            counts[previous] += 1
            counts["kills leaving leftovers"] += bool(staging(work))
            if previous == "broken":  # let an unkilled run repair it, as a user would
                repaired = subprocess.run(command("sim", out), capture_output=True, text=True)
                counts["restored"] += repaired.returncode == 0 and snapshot(out) == new
                previous = None
        subprocess.run(command("sim", out), check=True, capture_output=True)
        survivors = sorted(staging(work))
        swap = "rename-aside fallback" if args.fallback else "RENAME_EXCHANGE"
        when = (f"within {window * 1e3:.1f} ms after staging appeared" if args.targeted else
                f"over [{args.late:.2f}, 1.05] x {duration:.2f} s")
        print(f"{args.kills} SIGKILLs {when} ({swap})")
        for name, value in counts.items():
            print(f"  {name:<24} {value}")
        print(f"  leftovers after the next successful run: {len(survivors)} {survivors}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
