"""benchmarks/modes.py builds the same Jacobian in every system and mode (no timing here).

The MLP's Jacobian has a closed form, ``W2 diag(1 - h²) W1``: tinygrad_ann's forward
and reverse modes are checked against it, the peers (PyTorch, JAX) too when they
import. The table, the crossover and the plot are checked on fabricated timings.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
# benchmarks/ is a folder of scripts, not a package
import modes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHAPES = [(n, modes.FIXED) for n in modes.QUICK_SIZES] + [
    (modes.FIXED, m) for m in modes.QUICK_SIZES
]


@pytest.mark.parametrize("mode", modes.MODES)
@pytest.mark.parametrize(("n", "m"), SHAPES)
def test_tinygrad_jacobian_is_the_closed_form(mode, n, m):
    found = modes.jacobian("tinygrad", mode, n, m)
    assert found.shape == (m, n)
    assert modes.relative_error(found, modes.closed_form_jacobian(n, m)) <= 1e-12


def test_closed_form_matches_central_differences():
    """The closed form itself, against the MLP evaluated in NumPy."""
    n, m = 5, 3
    w1, b1, w2, b2, x = modes.mlp_setup(n, m)
    step = 1e-6
    columns = []
    for index in range(n):
        shift = np.zeros(n)
        shift[index] = step
        values = [w2 @ np.tanh(w1 @ (x + sign * shift) + b1) + b2 for sign in (1, -1)]
        columns.append((values[0] - values[1]) / (2 * step))
    np.testing.assert_allclose(modes.closed_form_jacobian(n, m), np.stack(columns, axis=1), 1e-8)


@pytest.mark.parametrize("library", ["torch", "jax"])
@pytest.mark.parametrize("mode", modes.MODES)
def test_peer_jacobian_is_the_closed_form(library, mode):
    pytest.importorskip(library, reason="an optional benchmark peer")
    found = modes.jacobian(library, mode, 4, 16)
    assert modes.relative_error(found, modes.closed_form_jacobian(4, 16)) <= modes.TOLERANCE


def test_quick_run_measures_both_sweeps_in_agreement(tmp_path, capsys):
    plot, results = tmp_path / "modes.png", tmp_path / "modes.json"
    pytest.importorskip("matplotlib", reason="the plot needs the examples extra")
    summary = modes.main(["--quick", "--plot", str(plot), "--json", str(results)])
    assert summary["systems"] == ["tinygrad"] and summary["repeats"] == 1
    assert json.loads(results.read_text())["sweeps"].keys() == {"a", "b"}
    for sweep in summary["sweeps"].values():
        assert sweep["sizes"] == list(modes.QUICK_SIZES) and not sweep["disagreeing"]
        assert set(sweep["seconds"]) == {"tinygrad forward", "tinygrad reverse"}
        assert all(value > 0 for values in sweep["seconds"].values() for value in values)
        assert all(error <= modes.TOLERANCE for error in sweep["max_errors"].values())
    assert plot.read_bytes()[:8] == PNG_SIGNATURE
    output = capsys.readouterr().out
    assert "(a) m = 64, n varies" in output and "(b) n = 64, m varies" in output


def test_crossover_is_where_the_power_laws_meet():
    sizes = [1, 4, 16, 64, 256]
    forward = [1e-5 * size for size in sizes]  # a pass per input element
    (found,) = modes.crossovers(sizes, forward, [32e-5] * len(sizes))
    assert (found.below, found.above, found.forward_faster_below) == (16, 64, True)
    assert found.at == pytest.approx(32)
    (found,) = modes.crossovers(sizes, [32e-5] * len(sizes), forward)
    assert (found.below, found.above, found.forward_faster_below) == (16, 64, False)


def test_crossover_none_or_several():
    sizes = [1, 4, 16]
    assert modes.crossovers(sizes, [1.0, 2.0, 3.0], [4.0, 4.0, 4.0]) == []
    noisy = modes.crossovers(sizes, [1.0, 1.1, 0.9], [1.05, 1.0, 1.0])
    assert [(c.below, c.above, c.forward_faster_below) for c in noisy] == [
        (1, 4, True),
        (4, 16, False),
    ]


def fabricated_sweep(torch_error: float) -> dict:
    """Sweep (a) from made-up medians: tinygrad forward grows with n, reverse does not."""
    sweep = modes.Sweep("a", "n", (1, 4, 16, 64, 256))
    runs = [(system, mode) for system in ("tinygrad", "torch") for mode in modes.MODES]
    medians, errors = {}, {}
    for size in sweep.sizes:
        n, m = sweep.shape(size)
        for system, mode in runs:
            medians[system, mode, n, m] = 1e-5 * n if mode == "forward" else 32e-5
            errors[system, mode, n, m] = torch_error if system == "torch" and n == 16 else 0.0
    return modes.summarised(sweep, runs, medians, errors)


def test_table_marks_the_crossover_and_ratios():
    sweep = fabricated_sweep(0.0)
    assert sweep["ratios"][:2] == pytest.approx([1 / 32, 4 / 32])
    table = modes.sweep_table(sweep)
    lines = table.splitlines()
    mark = next(i for i, line in enumerate(lines) if "crossover" in line)
    assert "n ≈ 32 (between 16 and 64): forward mode is faster below it" in lines[mark]
    assert lines[mark - 1].split()[0] == "16" and lines[mark + 1].split()[0] == "64"
    assert "0.03x" in table and "8.00x" in table and "torch jacrev" in table


def test_a_disagreeing_jacobian_is_not_reported():
    sweep = fabricated_sweep(1e-6)
    assert sweep["seconds"]["torch jacfwd"][2] is None
    assert sweep["seconds"]["tinygrad forward"][2] == pytest.approx(16e-5)
    table = modes.sweep_table(sweep)
    assert "differs" in table
    assert "torch jacfwd, n=16: its Jacobian differs from tinygrad reverse's by 1.0e-06" in table


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs the examples extra")
    path = tmp_path / "modes.png"
    modes.plot({"a": fabricated_sweep(1e-6), "b": fabricated_sweep(0.0)}, path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
