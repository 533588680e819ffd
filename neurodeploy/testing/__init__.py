"""Hardware-in-the-loop testing with pytest: deployments made once per session, assertions whose
failure text names the first divergence, markers and parametrisation (the `neurodeploy` pytest
plugin, `neurodeploy.testing.plugin`, registered through the `pytest11` entry point)."""

from neurodeploy.testing.assertions import assert_agrees, assert_bit_exact
from neurodeploy.testing.deployment import Deployment, deploy

__all__ = ["Deployment", "assert_agrees", "assert_bit_exact", "deploy"]
