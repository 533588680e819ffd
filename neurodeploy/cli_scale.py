"""--workers N and --ray ADDRESS: where `report` and `simulate` run their jobs (light: the
scale module, and Ray only with --ray, are imported when a command runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from neurodeploy.cli_models import raise_usage

if TYPE_CHECKING:
    from neurodeploy.scale import Workers


def scale_options(what: str) -> Callable[[Callable], Callable]:
    """The two options, with `what` the jobs they run (e.g. "the sweep's rows")."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--ray", "ray_address", metavar="ADDRESS", default=None,
            help=f"Run {what} as Ray tasks on the cluster at ADDRESS: auto, local (a new "
                 "instance), HOST:PORT or ray://HOST:PORT (pip install 'neurodeploy[ray]'; "
                 "the same result).")(command)
        return click.option(
            "--workers", type=click.IntRange(1, 256), default=1, show_default=True,
            help=f"Local processes running {what} (the same result).")(command)

    return decorate


def workers_of(count: int, ray_address: str | None) -> Workers:
    """The Workers the options ask for (enter it to start them)."""
    from neurodeploy.scale import Workers

    if ray_address is not None and count > 1:
        raise_usage("give either --workers N or --ray ADDRESS")
    if ray_address is not None and not ray_address.strip():
        raise_usage("--ray needs an address: auto, local, HOST:PORT or ray://HOST:PORT")
    return Workers(count, ray_address)
