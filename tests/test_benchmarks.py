"""The benchmark workloads compute the same thing in NumPy and tinygrad_ann (no timing here)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import workloads  # benchmarks/ is a folder of scripts, not a package


@pytest.mark.parametrize("workload", sorted(workloads.WORKLOADS))
def test_numpy_and_tinygrad_versions_agree(workload):
    numpy_result = workloads.run("numpy", workload, quick=True)
    tinygrad_result = workloads.run("tinygrad", workload, quick=True)
    tolerance = 1e-4 if workload == "W3" else 1e-10
    assert np.isfinite(numpy_result["loss"])
    np.testing.assert_allclose(tinygrad_result["loss"], numpy_result["loss"], rtol=tolerance)


def test_memory_mode_reports_a_peak():
    result = workloads.run("tinygrad", "W1", quick=True, memory=True)
    assert result["peak_bytes"] > 0
