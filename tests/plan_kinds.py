"""The two forms of a compiled plan, as an autouse fixture the compile tests import."""

import pytest

from tinygrad_ann.compile import plan


@pytest.fixture(params=["kernels", "straight-line"], autouse=True)
def plan_kind(request, monkeypatch):
    """Every compile test runs twice: plans as loops over kernels (as they start), and as
    straight-line code (as they run after plan.UPGRADE_AFTER replays)."""
    if request.param == "straight-line":
        monkeypatch.setattr(plan, "_KERNELS_FIRST", False)
    return request.param
