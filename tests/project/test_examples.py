"""Every example script runs (briefly) and reaches its result, so the examples never rot."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import tinygrad_ann as tg

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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
        "digits_cnn",
        "digits_predict",
        "newton_logistic",
        "gradient_penalty",
        "char_lstm",
        "char_transformer",
        "char_compare",
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


def test_digits_mlp_reaches_95_percent_and_the_saved_model_predicts_the_same(tmp_path, capsys):
    checkpoint = tmp_path / "digits.safetensors"
    trained = load("digits_mlp").main(["--save", str(checkpoint)])
    assert trained["test_accuracy"] >= 0.95
    predicted = load("digits_predict").main(["--checkpoint", str(checkpoint)])
    assert predicted["test_accuracy"] == trained["test_accuracy"]
    assert predicted["saved_accuracy"] == trained["test_accuracy"]
    assert "first ten test images" in capsys.readouterr().out


def test_digits_cnn_reaches_99_percent_on_the_same_held_out_images(tmp_path):
    result = load("digits_cnn").main(["--plot", str(tmp_path)])
    assert result["test_accuracy"] >= 0.99  # 99.56% (2 of 450 wrong) at the defaults
    assert (tmp_path / "digits_cnn_filters.png").read_bytes().startswith(b"\x89PNG")
    assert "cluster" in (tmp_path / "digits_cnn_graph.svg").read_text()


def test_newton_converges_in_a_few_steps_where_gradient_descent_needs_hundreds(capsys):
    module = load("newton_logistic")
    result = module.main([])
    assert result["newton_steps"] <= 10
    assert result["newton_grad_norm"] < 1e-10
    assert result["gd_steps"] >= 20 * result["newton_steps"]
    assert result["accuracy"] > 0.8
    assert "Newton: " in capsys.readouterr().out

    # The Hessian it inverts is the closed form Aᵀ diag(s(1−s)) A / n + λ diag(1, 1, 0).
    points, labels = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 0.9]]), np.array([1, 0, 1])
    w, b = np.array([0.2, -0.4]), np.array(0.1)
    design = np.column_stack([points, np.ones(3)])
    s = 1 / (1 + np.exp(-(design @ np.append(w, b))))
    expected = design.T @ np.diag(s * (1 - s)) @ design / 3 + 0.01 * np.diag([1.0, 1.0, 0.0])
    loss = module.make_loss(points, labels, 0.01)
    found = module.flat_hessian(loss, tg.tensor(w), tg.tensor(b))
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-14)


def test_gradient_penalty_keeps_the_input_gradient_small():
    result = load("gradient_penalty").main(["--epochs", "150"])
    plain, penalised = result["plain"], result["penalised"]
    assert penalised["accuracy"] > 0.9
    assert plain["penalty_before"] == penalised["penalty_before"]  # same seed, same start
    assert penalised["penalty_after"] < plain["penalty_after"] / 5


def check_character_model(result: dict, output: str, sample_length: int) -> None:
    bits = result["validation_bits_per_char"]
    assert math.isfinite(bits)
    assert bits < math.log2(result["vocabulary_size"])  # better than a uniform guess
    assert len(result["sample"]) == sample_length
    assert f"final validation {bits:.3f} bits/char" in output


def test_char_lstm_learns_in_a_few_dozen_steps_and_writes_a_sample(capsys):
    result = load("char_lstm").main(["--quick", "--sample-length", "120"])
    check_character_model(result, capsys.readouterr().out, 120)


def test_char_transformer_learns_in_a_few_dozen_steps_and_writes_a_sample(capsys):
    result = load("char_transformer").main(["--quick", "--sample-length", "120"])
    check_character_model(result, capsys.readouterr().out, 120)


def test_character_batches_depend_only_on_the_seed():
    module = load("char_lstm")
    corpus = module.load_corpus()
    total = len(corpus.train) + len(corpus.validation)
    assert len(corpus.train) == int(0.9 * total)  # the last 10% is for validation
    first, again, other = (module.batches(corpus.train, 4, 16, seed) for seed in (0, 0, 1))
    for _ in range(3):
        inputs, targets = next(first)
        np.testing.assert_array_equal(inputs, next(again)[0])
        np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert not np.array_equal(inputs, next(other)[0])


def test_character_models_train_as_in_pytorch_from_the_same_weights():
    pytest.importorskip("torch", reason="PyTorch is an optional reference")
    results = load("char_compare").main(
        "--steps 4 --batch-size 4 --length 16 --hidden-size 16 --embedding-dim 8 "
        "--width 16 --heads 2 --layers 1 --validation-windows 8".split()
    )
    for result in results.values():
        assert result["tinygrad_ann"] < result["before"]
        assert result["relative_difference"] < 0.01


def test_character_models_refuse_a_prompt_outside_the_corpus_by_name():
    corpus = load("char_lstm").load_corpus()
    with pytest.raises(ValueError, match=r"the prompt holds '\\x00', '\\x01', which the corpus"):
        corpus.encode("<a\x00\x01")
    assert corpus.decode(corpus.encode('The "x"')) == 'The "x"'
    for name in ("char_lstm", "char_transformer"):  # refused before any training
        with pytest.raises(ValueError, match="the prompt is empty"):
            load(name).main(["--quick", "--prompt", ""])
