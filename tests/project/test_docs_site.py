"""The documentation site's own check: every public name has a docstring and a place in
the API reference (docs/site/_ext/public_api.py, run by `make docs` as a Sphinx
extension whose warnings fail the build)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "site" / "_ext"))

import public_api  # noqa: E402

import tinygrad_ann as tg  # noqa: E402


@pytest.fixture(scope="module")
def every_public_name():
    return {dotted for dotted, _ in public_api.public_names()}


def test_the_public_names_include_the_first_hour_api(every_public_name):
    for dotted in (
        "tinygrad_ann.Tensor",
        "tinygrad_ann.Tensor.backward",
        "tinygrad_ann.Tensor.shape",  # a property
        "tinygrad_ann.Tensor.clamp_",  # from the class Tensor derives its methods from
        "tinygrad_ann.gradcheck",
        "tinygrad_ann.nn.Linear",
        "tinygrad_ann.nn.Module.apply",
        "tinygrad_ann.functional.cross_entropy",
        "tinygrad_ann.optim.lr_scheduler.OneCycleLR",
        "tinygrad_ann.viz.explain",
    ):
        assert dotted in every_public_name


def test_every_public_name_has_a_docstring(every_public_name):
    without = [p for p in public_api.problems(every_public_name) if "docstring" in p]
    assert without == []


def test_a_name_without_a_docstring_or_a_reference_entry_is_reported(
    every_public_name, monkeypatch
):
    monkeypatch.setattr(tg.Tensor.exp, "__doc__", None)
    found = public_api.problems(every_public_name - {"tinygrad_ann.gradcheck"})
    assert found == [
        "public name without a docstring: tinygrad_ann.Tensor.exp",
        "public name missing from the API reference: tinygrad_ann.gradcheck",
    ]
