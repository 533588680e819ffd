"""The target contract and the package layering: a target from outside neurodeploy runs through
every command, and the subpackages import each other in one direction only."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import DATA, ROOT, model_path

PACKAGE = ROOT / "neurodeploy"
TOY = ROOT / "tests" / "toy_target"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TOY), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_target_registered_by_entry_point_runs_convert_simulate_and_report(tmp_path):
    listed = _run("targets", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "toy" in [row["name"] for row in json.loads(listed.stdout)]
    converted = _run("convert", str(model_path("lif")), "--target", "toy", "--data", str(DATA),
                     "-o", "out", cwd=tmp_path)
    assert converted.returncode == 0, converted.stderr
    out = tmp_path / "out"
    names = [node["name"] for node in json.loads((out / "program.json").read_text())["nodes"]]
    assert sorted((out / "toy.txt").read_text().split()) == sorted(names)
    report = json.loads((out / "report.json").read_text())
    assert report["target"] == "toy" and report["accuracy"]["quantized"] > 0.9
    assert report["energy"]["total_pj"] == report["synops"]["total"] > 0
    simulated = _run("simulate", "out", "--input", str(DATA), cwd=tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    accuracy = float(simulated.stdout.split("accuracy")[1].split()[0])
    assert abs(accuracy - report["accuracy"]["quantized"]) < 1e-4  # printed with 4 digits
    swept = _run("report", str(model_path("lif")), "--target", "toy", "--data", str(DATA),
                 "--bits", "4,6", "-o", "sweep", cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["rows"]
    assert [row["weight_bits"] for row in rows] == [4, 6]


def _imports(path: Path) -> set[str]:
    """The neurodeploy subpackages (top-level modules) a file imports, anywhere in it."""
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level:
            parts = module.split(".")
            keep = len(parts) - node.level + (1 if path.name == "__init__.py" else 0)
            names = [".".join(parts[:keep] + ([node.module] if node.module else []))]
        found |= {n.split(".")[1] for n in names if n.startswith("neurodeploy.")}
    return found


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def test_subpackages_import_each_other_without_cycles():
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        graph.setdefault(unit, set()).update(_imports(path) - {unit})
    seen: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(unit: str, trail: list[str]) -> None:
        seen[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            assert seen.get(nxt) != 1, f"import cycle: {' -> '.join([*trail, unit, nxt])}"
            if nxt not in seen:
                visit(nxt, [*trail, unit])
        seen[unit] = 2

    for unit in sorted(graph):
        if unit not in seen:
            visit(unit, [])
    assert "targets" not in graph["engine"] and "cli" not in set().union(*graph.values())
    assert "engine" not in graph["program"]


def test_modules_stay_small():
    sizes = {path.relative_to(ROOT): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 420, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
