"""Every example script runs (briefly) and reaches its result, so the examples never rot."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_script_is_covered():
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    assert scripts == {
        "perceptron_diabetes",
        "and_gate",
        "two_layer_xor",
        "l_layer_network",
        "two_moons",
        "digits_mlp",
    }


def test_perceptron_learns_the_table(capsys):
    result = load("perceptron_diabetes").main(["--epochs", "3000"])
    assert result["accuracy"] == 1.0
    assert result["new_patient"] < 0.5
    assert "accuracy 100%" in capsys.readouterr().out


def test_and_gate_reaches_full_accuracy():
    assert load("and_gate").main([])["accuracy"] == 1.0


def test_two_layer_net_outputs_approach_xor():
    outputs = load("two_layer_xor").main([])["outputs"]
    np.testing.assert_allclose(outputs, [0, 1, 1, 0], atol=0.1)


def test_l_layer_network_trains_and_checks_its_sizes():
    module = load("l_layer_network")
    assert module.main(["--epochs", "300", "--sizes", "2", "8", "4", "1"])["accuracy"] > 0.8
    with pytest.raises(SystemExit):
        module.main(["--sizes", "3", "4", "1"])


def test_two_moons_sweep_and_plot(tmp_path):
    result = load("two_moons").main(
        ["--epochs", "300", "--sizes", "1", "5", "--plot", str(tmp_path)]
    )
    assert set(result["accuracy"]) == {1, 5}
    assert result["accuracy"][5] > result["accuracy"][1]
    assert result["plot"].read_bytes().startswith(b"\x89PNG")


def test_digits_mlp_reaches_95_percent_test_accuracy():
    assert load("digits_mlp").main([])["test_accuracy"] >= 0.95
