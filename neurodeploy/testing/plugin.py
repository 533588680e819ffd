"""The `neurodeploy` pytest plugin (entry point `pytest11`), for users' own HIL test suites.

Fixtures:
    nd_deploy        session factory: nd_deploy(model, target, x, labels=None, **options) ->
                     Deployment, converted and written once per session (cached in tmp)
    nd_target        parametrised over --nd-targets (default: sim), or the test's
                     @pytest.mark.nd_targets(...) within them
    nd_weight_bits   parametrised over --nd-weight-bits (default: 8)
Markers:
    nd_targets(*names)     the targets a test runs on (those of --nd-targets it names)
    nd_executor(name)      skip unless an executor of that name can run here
Assertions: `neurodeploy.testing.assert_bit_exact`, `assert_agrees`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:  # the plugin loads with every pytest run: keep torch out until a fixture runs
    from neurodeploy.testing.deployment import Deployment


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neurodeploy", "hardware-in-the-loop tests of deployments")
    group.addoption("--nd-targets", default="sim",
                    help="comma-separated targets for the nd_target fixture (default: sim)")
    group.addoption("--nd-weight-bits", default="8",
                    help="comma-separated weight widths for the nd_weight_bits fixture")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nd_targets(*names): targets the test runs on")
    config.addinivalue_line("markers", "nd_executor(name): skip unless that executor can run")


def _listed(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise pytest.UsageError(f"{option} lists nothing")
    return items


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if "nd_target" in metafunc.fixturenames:
        chosen = _listed(config.getoption("--nd-targets"), "--nd-targets")
        marker = metafunc.definition.get_closest_marker("nd_targets")
        if marker is not None:
            chosen = [name for name in chosen if name in marker.args]
        metafunc.parametrize("nd_target", chosen or [pytest.param(
            None, marks=pytest.mark.skip(reason="none of --nd-targets is in nd_targets"))])
    if "nd_weight_bits" in metafunc.fixturenames:
        widths = _listed(config.getoption("--nd-weight-bits"), "--nd-weight-bits")
        try:
            metafunc.parametrize("nd_weight_bits", [int(w) for w in widths])
        except ValueError:
            raise pytest.UsageError(f"--nd-weight-bits takes integers, got {widths}") from None


def _executor_problem(name: str) -> str | None:
    """None when some installed target has an executor `name` that can run here."""
    from neurodeploy.targets.registry import get_target, target_names

    reasons = []
    for target in target_names():
        executor = get_target(target).executors.get(name)
        if executor is not None:
            why = executor.unavailable()
            if why is None:
                return None
            reasons.append(why)
    return "; ".join(reasons) or f"no installed target has an executor '{name}'"


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("nd_executor"):
        for name in marker.args:
            why = _executor_problem(name)
            if why:
                pytest.skip(f"executor '{name}' cannot run here: {why}")


def _key(model: object, target: str, x: np.ndarray, options: dict) -> tuple:
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    return (str(model) if isinstance(model, str) or hasattr(model, "__fspath__") else id(model),
            target, digest, x.shape, tuple(sorted(options.items())))


@pytest.fixture(scope="session")
def nd_deploy(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Deployment]:
    """A factory converting a model for a target once per session (see the module docstring)."""
    made: dict[tuple, Deployment] = {}

    def make(model: object, target: str, x: np.ndarray, labels: np.ndarray | None = None,
             **options: object) -> Deployment:
        from neurodeploy.testing.deployment import deploy

        key = _key(model, target, np.asarray(x), options)
        if key not in made:
            directory = tmp_path_factory.mktemp(f"nd-{target}") / "out"
            made[key] = deploy(model, target, x, directory, labels, **options)
        return made[key]

    return make


@pytest.fixture
def nd_target(request: pytest.FixtureRequest) -> str:
    """A target name from --nd-targets (parametrised)."""
    return request.param


@pytest.fixture
def nd_weight_bits(request: pytest.FixtureRequest) -> int:
    """A weight width from --nd-weight-bits (parametrised)."""
    return request.param
