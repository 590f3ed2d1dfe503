"""Shared test configuration: hypothesis profiles and a clean global state per test."""

import os

import pytest
from hypothesis import HealthCheck, settings

import tinygrad_ann as tg

# Numeric work is slow and its timing noisy, so no deadline anywhere.
# "dev" (default) keeps the suite fast; "ci" is derandomized so a red build
# always reproduces, with more examples per property.
settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo changes to tg's global settings a test may make."""
    dtype = tg.get_default_dtype()
    grad_enabled = tg.is_grad_enabled()
    yield
    tg.set_default_dtype(dtype)
    assert tg.is_grad_enabled() == grad_enabled, "a test left grad mode changed"
