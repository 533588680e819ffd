"""The registry of deployment targets: the `neurodeploy.targets` entry-point group.

Each entry names a factory returning a Target (see `neurodeploy.targets.base`); the built-in
targets register there too (pyproject.toml), so the CLI, `describe_targets` and the pipeline know
every installed target, and nothing else lists them.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from neurodeploy.errors import UnsupportedModelError

if TYPE_CHECKING:  # the registry itself stays light: `neurodeploy --help` lists targets
    from neurodeploy.targets.base import Target

GROUP = "neurodeploy.targets"


def target_names() -> list[str]:
    """Names of the installed targets, sorted."""
    return sorted({entry.name for entry in entry_points(group=GROUP)})


@cache
def get_target(name: str) -> Target:
    """The Target called `name`, or an error naming the installed ones."""
    found = [entry for entry in entry_points(group=GROUP) if entry.name == name]
    if not found:
        raise UnsupportedModelError(f"unknown target '{name}'; installed targets: "
                                    f"{', '.join(target_names())}")
    return found[0].load()()


def describe_targets() -> list[dict[str, str]]:
    """One row per installed target: name and description."""
    return [{"name": name, "description": get_target(name).description}
            for name in target_names()]
