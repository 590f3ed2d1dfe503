"""The two forms of a compiled plan, as an autouse fixture the compile tests import."""

import pytest

from tinygrad_ann.compile import plan


@pytest.fixture(params=["kernels", "straight-line", "simplified"], autouse=True)
def plan_kind(request, monkeypatch):
    """Every compile test runs in each form of a plan: a loop over kernels (as plans
    start), straight-line code (after plan.UPGRADE_AFTER replays), and that code simplified
    (after plan.SIMPLIFY_AFTER replays, or once its source is asked for)."""
    if request.param != "kernels":
        monkeypatch.setattr(plan, "_KERNELS_FIRST", False)
        monkeypatch.setattr(plan, "_SIMPLIFIED_FIRST", request.param == "simplified")
    return request.param
