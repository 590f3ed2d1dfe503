"""ONNX export: the file passes onnx.checker, and onnxruntime computes what we compute."""

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, ops, optim
from tinygrad_ann.onnx import ExportError, export, supported_ops

DTYPES = [np.float32, np.float64]
TOLERANCE = {
    np.dtype(np.float32): {"rtol": 1e-6, "atol": 1e-6},
    np.dtype(np.float64): {"rtol": 1e-10, "atol": 1e-10},
}
BATCHES = (1, 7)
# onnxruntime's CPU provider has no float64 kernels for these (see
# test_onnxruntime_has_no_float64_conv_or_average_pool): onnx's reference evaluator runs them.
NO_FLOAT64_KERNEL = {"Conv", "AveragePool"}


def run_onnx(path, *arrays: np.ndarray) -> list[np.ndarray]:
    model = onnx.load(path)
    if any(a.dtype == np.float64 for a in arrays) and NO_FLOAT64_KERNEL & op_types(model.graph):
        feeds = {spec.name: array for spec, array in zip(model.graph.input, arrays)}
        return list(ReferenceEvaluator(model).run(None, feeds))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # starting a thread pool costs more than these tiny runs
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {spec.name: array for spec, array in zip(session.get_inputs(), arrays)}
    return session.run(None, feeds)


def op_types(graph) -> set[str]:
    return {node.op_type for node in graph.node}


def run_ours(fn, *arrays: np.ndarray) -> list[np.ndarray]:
    with tg.no_grad():
        result = fn(*(tg.tensor(array) for array in arrays))
    results = result if isinstance(result, tuple | list) else (result,)
    return [r.numpy() for r in results]


def assert_same(fn, path, *arrays: np.ndarray) -> None:
    expected = run_ours(fn, *arrays)
    got = run_onnx(path, *arrays)
    assert len(got) == len(expected)
    for ours, theirs in zip(expected, got):
        assert theirs.dtype == ours.dtype
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours, **TOLERANCE[ours.dtype])


def rows(batch: int, features: Any, dtype, seed: int = 0, low=-2.0, high=2.0) -> np.ndarray:
    shape = (batch, *features) if isinstance(features, tuple) else (batch, features)
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def exported(fn, example, path, **kwargs):
    written = export(fn, example, path, **kwargs)
    assert written == path and path.exists()
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return written


# ---------------------------------------------------------------------- the article networks
def digits_mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def two_moons_net():
    return nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))


def two_moons_softmax():
    return nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2), nn.Softmax(axis=-1))


def l_layer_sigmoid():
    return nn.Sequential(
        nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid()
    )


NETWORKS = {
    "digits_mlp": (digits_mlp, 64),
    "two_moons": (two_moons_net, 2),
    "two_moons_softmax": (two_moons_softmax, 2),
    "l_layer_sigmoid": (l_layer_sigmoid, 5),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_article_networks_match_onnxruntime_at_every_batch_size(network, dtype, tmp_path):
    build, features = NETWORKS[network]
    tg.manual_seed(0)
    model = build().to(dtype)
    path = exported(model, rows(3, features, dtype), tmp_path / f"{network}.onnx")
    for batch in BATCHES:
        assert_same(model, path, rows(batch, features, dtype, seed=batch))
    graph = onnx.load(path).graph
    assert [init.name for init in graph.initializer] == [n for n, _ in model.named_parameters()]
    elem_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert graph.input[0].type.tensor_type.elem_type == elem_type
    assert graph.output[0].type.tensor_type.elem_type == elem_type


def test_digits_mlp_is_gemm_relu_gemm(tmp_path):
    tg.manual_seed(0)
    path = exported(digits_mlp(), rows(4, 64, np.float64), tmp_path / "mlp.onnx")
    assert [node.op_type for node in onnx.load(path).graph.node] == ["Gemm", "Relu", "Gemm"]


def test_parameters_stay_writable_after_export(tmp_path):
    # Large arrays saved by the traced graph are read-only while it lives; export drops it.
    tg.manual_seed(0)
    model = digits_mlp()
    exported(model, rows(3, 64, np.float64), tmp_path / "mlp.onnx")
    for parameter in model.parameters():
        parameter.data *= 0.5


def test_a_model_in_eval_mode_and_under_no_grad_exports(tmp_path):
    tg.manual_seed(0)
    model = two_moons_net().eval()
    with tg.no_grad():
        path = exported(model, rows(3, 2, np.float64), tmp_path / "m.onnx")
    assert_same(model, path, rows(5, 2, np.float64))


# ---------------------------------------------------------------------- one test per op
def positive(batch: int, dtype, seed: int) -> np.ndarray:
    return rows(batch, 4, dtype, seed, low=0.5, high=2.0)


def signed(batch: int, dtype, seed: int) -> np.ndarray:
    return rows(batch, 4, dtype, seed)


@dataclass
class OpCase:
    op: str  # the op_name() the function records
    fn: Any
    make: Any = signed  # (batch, dtype, seed) -> input array


_RANDOM = np.random.default_rng(2)
_WEIGHT_VALUES, _BIAS_VALUES = _RANDOM.standard_normal((3, 4)), _RANDOM.standard_normal(3)
_MATRIX_VALUES = _RANDOM.standard_normal((4, 3))
# One leaf per dtype, so that every value of a case has the input's dtype.
_WEIGHT = {np.dtype(d): tg.tensor(_WEIGHT_VALUES, requires_grad=True, dtype=d) for d in DTYPES}
_BIAS = {np.dtype(d): tg.tensor(_BIAS_VALUES, requires_grad=True, dtype=d) for d in DTYPES}
_MATRIX = {np.dtype(d): _MATRIX_VALUES.astype(d) for d in DTYPES}
_MASK = np.array([True, False, True, False])


def _other_float(x):
    return np.float32 if x.dtype == np.float64 else np.float64


def images(batch: int, dtype, seed: int) -> np.ndarray:
    return rows(batch, (4, 7, 6), dtype, seed)  # not square: a swapped height and width shows


def negative_images(batch: int, dtype, seed: int) -> np.ndarray:
    # Below zero everywhere: a max pool that padded with zeros would return the padding.
    return rows(batch, (4, 7, 6), dtype, seed, low=-3.0, high=-1.0)


def sequences(batch: int, dtype, seed: int) -> np.ndarray:
    return rows(batch, (4, 5), dtype, seed)


def _leaf(*shape: int, scale: float = 1.0) -> dict[np.dtype, tg.Tensor]:
    values = _RANDOM.standard_normal(shape) * scale
    return {np.dtype(d): tg.tensor(values, requires_grad=True, dtype=d) for d in DTYPES}


def _conv_weight(*shape: int) -> dict[np.dtype, tg.Tensor]:
    # Scaled as nn.Conv2d initialises, so that outputs are of the inputs' size: float32 sums
    # of larger terms differ by more than 1e-6 between two summation orders.
    return _leaf(*shape, scale=1 / np.sqrt(np.prod(shape[1:])))


_CONV = {
    "plain": (_conv_weight(5, 4, 3, 3), _leaf(5, scale=0.3)),
    "grouped": (_conv_weight(6, 2, 3, 2), _leaf(6, scale=0.3)),
    "depthwise": (_conv_weight(4, 1, 3, 3), None),
    "pointwise": (_conv_weight(3, 4, 1, 1), None),
}


def conv(x, kind: str, **geometry):
    weight, bias = _CONV[kind]
    return F.conv2d(x, weight[x.dtype], None if bias is None else bias[x.dtype], **geometry)


def trained_statistics(layer, dtype, variance=None):
    """``layer`` (a batch norm) in eval mode, its statistics and parameters as training leaves
    them: away from their initial 0 and 1."""
    layer.to(dtype)
    channels = layer.num_features
    layer.running_mean.data[...] = _RANDOM.normal(0.0, 0.5, channels)
    layer.running_var.data[...] = (
        _RANDOM.uniform(0.5, 2.0, channels) if variance is None else variance
    )
    if layer.affine:
        layer.weight.data[...] = _RANDOM.uniform(0.5, 1.5, channels)
        layer.bias.data[...] = _RANDOM.normal(0.0, 0.5, channels)
    return layer.eval()


_BATCH_NORM_2D = {np.dtype(d): trained_statistics(nn.BatchNorm2d(4), d) for d in DTYPES}
_BATCH_NORM_1D = {
    np.dtype(d): trained_statistics(nn.BatchNorm1d(4, affine=False), d) for d in DTYPES
}
_STATISTICS = (_RANDOM.normal(0.0, 0.5, 4), _RANDOM.uniform(0.5, 2.0, 4))
_SCALE, _SHIFT = _leaf(4, scale=0.5), _leaf(4, scale=0.5)
_LAYER_NORM = {np.dtype(d): nn.LayerNorm((7, 6)).to(d) for d in DTYPES}
_SCALE_ONLY = {np.dtype(d): nn.LayerNorm(6, bias=False).to(d) for d in DTYPES}
for _layer in (*_LAYER_NORM.values(), *_SCALE_ONLY.values()):
    for _parameter in _layer.parameters():
        _parameter.data[...] = _RANDOM.uniform(0.5, 1.5, _parameter.shape)


OP_CASES = [
    OpCase("add", lambda x: x + 1.5),
    OpCase("add", lambda x: 2.0 + x + x),
    OpCase("sub", lambda x: 1.0 - x - x * 3),
    OpCase("mul", lambda x: x * x * 0.5),
    OpCase("div", lambda x: x / 3.0),
    OpCase("div", lambda x: 1.0 / x, positive),
    OpCase("pow", lambda x: x**2),
    OpCase("pow", lambda x: x**0.5, positive),
    OpCase("pow", lambda x: 2.0**x),
    OpCase("pow", lambda x: x**x, positive),
    OpCase("neg", lambda x: -x),
    OpCase("matmul", lambda x: x @ _MATRIX[x.dtype]),
    OpCase("matmul", lambda x: tg.matmul(x.reshape(x.shape[0], 2, 2), x.reshape(x.shape[0], 2, 2))),
    OpCase("linear", lambda x: F.linear(x, _WEIGHT[x.dtype], _BIAS[x.dtype])),
    OpCase("linear", lambda x: F.linear(x, _WEIGHT[x.dtype])),
    OpCase(
        "linear", lambda x: F.linear(x.reshape(x.shape[0], 1, 4), _WEIGHT[x.dtype], _BIAS[x.dtype])
    ),
    OpCase("cast", lambda x: (x.astype(_other_float(x)) * 3).astype(x.dtype)),
    OpCase("exp", lambda x: x.exp()),
    OpCase("log", lambda x: x.log(), positive),
    OpCase("sqrt", lambda x: x.sqrt(), positive),
    OpCase("abs", lambda x: x.abs()),
    OpCase("clip", lambda x: x.clip(-0.5, 1.0)),
    OpCase("clip", lambda x: x.clip(None, 0.25)),
    OpCase("clip", lambda x: x.clip(-0.25, None)),
    OpCase("clip", lambda x: x.clip(np.array([-1.0, 0.0, -0.5, 0.5], x.dtype), 1.0)),
    OpCase("relu", lambda x: x.relu()),
    OpCase("leaky_relu", lambda x: F.leaky_relu(x, 0.1)),
    OpCase("leaky_relu", lambda x: nn.LeakyReLU(0.3)(x)),
    OpCase("sigmoid", lambda x: x.sigmoid()),
    OpCase("tanh", lambda x: x.tanh()),
    OpCase("softmax", lambda x: x.softmax(axis=-1)),
    OpCase("softmax", lambda x: x.softmax(axis=0)),
    OpCase("log_softmax", lambda x: x.log_softmax(axis=1)),
    OpCase("maximum", lambda x: tg.maximum(x, 0.5) + tg.maximum(x, x * x)),
    OpCase("minimum", lambda x: tg.minimum(x, -0.5) + tg.minimum(x * x, x)),
    OpCase("where", lambda x: tg.where(_MASK, x, -2.0 * x)),
    OpCase("sum", lambda x: x.sum(axis=1)),
    OpCase("sum", lambda x: x.sum(axis=-1, keepdims=True)),
    OpCase("mean", lambda x: x.reshape(x.shape[0], 2, 2).mean(axis=(1, 2))),
    OpCase("mean", lambda x: x.mean(axis=1, keepdims=True)),
    OpCase("mean", lambda x: x - x.mean(axis=0, keepdims=True)),  # over the batch
    OpCase("max", lambda x: x.max(axis=1)),
    OpCase("max", lambda x: x.reshape(x.shape[0], 2, 2).max(axis=-1, keepdims=True)),
    OpCase("min", lambda x: x.min(axis=1, keepdims=True)),
    OpCase("reshape", lambda x: x.reshape(x.shape[0], 2, 2)),
    OpCase("reshape", lambda x: x.reshape(-1).reshape(-1, 4) * 2),
    OpCase("transpose", lambda x: x.reshape(x.shape[0], 2, 2).transpose(0, 2, 1)),
    OpCase("transpose", lambda x: (x.T * 2).T),
    OpCase("broadcast_to", lambda x: ops.broadcast_to(x.sum(axis=1, keepdims=True), x.shape) * x),
    OpCase(
        "broadcast_to",
        lambda x: ops.broadcast_to(x.reshape(x.shape[0], 1, 4), (x.shape[0], 3, 4)),
    ),
    OpCase("concatenate", lambda x: tg.concatenate([x, x * 2], axis=1)),
    OpCase(
        "concatenate",
        lambda x: tg.concatenate(
            [x.reshape(-1, 2, 2), _MATRIX[x.dtype][:2, :2] + x.reshape(-1, 2, 2)], -1
        ),
    ),
    OpCase("stack", lambda x: tg.stack([x, x * 2], axis=1)),
    OpCase("stack", lambda x: tg.stack([x, -x, x * 3], axis=-1)),
    OpCase("conv2d", lambda x: conv(x, "plain"), images),
    OpCase("conv2d", lambda x: conv(x, "plain", stride=2, padding=1), images),
    OpCase(
        "conv2d",
        lambda x: conv(x, "grouped", stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        images,
    ),
    OpCase("conv2d", lambda x: conv(x, "depthwise", padding=2, dilation=2, groups=4), images),
    OpCase("conv2d", lambda x: conv(x, "pointwise", stride=(1, 2)), images),
    OpCase("max_pool2d", lambda x: F.max_pool2d(x, 2), images),
    OpCase("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), negative_images),
    OpCase(
        "max_pool2d",
        lambda x: F.max_pool2d(x, (3, 2), stride=(1, 2), padding=(1, 1)),
        negative_images,
    ),
    OpCase("avg_pool2d", lambda x: F.avg_pool2d(x, 2), images),
    OpCase("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), images),
    OpCase(
        "avg_pool2d",
        lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        images,
    ),
    OpCase(
        "avg_pool2d",
        lambda x: F.avg_pool2d(x, (2, 3), stride=(1, 2), padding=1, count_include_pad=False),
        images,
    ),
    OpCase("batch_norm_eval", lambda x: _BATCH_NORM_2D[x.dtype](x), images),
    OpCase("batch_norm_eval", lambda x: _BATCH_NORM_1D[x.dtype](x)),
    OpCase("batch_norm_eval", lambda x: _BATCH_NORM_1D[x.dtype](x), sequences),
    OpCase(
        "batch_norm_eval",
        lambda x: F.batch_norm(x, *_STATISTICS, _SCALE[x.dtype], _SHIFT[x.dtype]),
        sequences,
    ),
    OpCase("layer_norm", lambda x: F.layer_norm(x, 4, _SCALE[x.dtype], _SHIFT[x.dtype])),
    OpCase("layer_norm", lambda x: _LAYER_NORM[x.dtype](x), images),
    OpCase("layer_norm", lambda x: F.layer_norm(x, (7, 6), eps=2.0**-10), images),
    OpCase("layer_norm", lambda x: _SCALE_ONLY[x.dtype](x), images),
]


def recorded_ops(fn, x: np.ndarray) -> set[str]:
    output = fn(tg.tensor(x, requires_grad=True))
    found, stack = set(), [output]
    while stack:
        tensor = stack.pop()
        if tensor._ctx is not None:
            found.add(tensor._ctx.op_name())
            stack.extend(p for p in tensor._ctx.parents if p is not None)
    return found


def test_every_supported_op_has_a_case():
    assert {case.op for case in OP_CASES} == set(supported_ops())


def op_params():
    for k, case in enumerate(OP_CASES):
        for dtype in DTYPES:
            yield pytest.param(case, dtype, id=f"{case.op}-{k}-{np.dtype(dtype).name}")


@pytest.mark.parametrize(("case", "dtype"), list(op_params()))
def test_each_op_matches_onnxruntime(case, dtype, tmp_path):
    example = case.make(3, dtype, seed=0)
    assert case.op in recorded_ops(case.fn, example)
    path = exported(case.fn, example, tmp_path / "op.onnx")
    for batch in BATCHES:
        assert_same(case.fn, path, case.make(batch, dtype, seed=batch))
    if case.op != "cast":
        elem_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        assert {i.data_type for i in onnx.load(path).graph.initializer} <= {
            elem_type,
            onnx.TensorProto.INT64,  # axes and shapes
            onnx.TensorProto.BOOL,  # where's condition
        }


def test_reductions_over_every_axis_export_with_a_fixed_batch(tmp_path):
    x = rows(3, 4, np.float64)
    for fn in (lambda t: t.sum(), lambda t: t.mean(), lambda t: t.max(), lambda t: t.min(axis=0)):
        with pytest.raises(ExportError, match="dynamic_batch=False"):
            export(fn, x, tmp_path / "m.onnx")
        path = exported(fn, x, tmp_path / "m.onnx", dynamic_batch=False)
        assert_same(fn, path, rows(3, 4, np.float64, seed=5))


def test_sum_over_no_axes_is_the_identity(tmp_path):
    fn = lambda t: t.sum(axis=()) * 2  # noqa: E731
    path = exported(fn, rows(3, 4, np.float32), tmp_path / "m.onnx")
    assert_same(fn, path, rows(7, 4, np.float32, seed=1))


# ---------------------------------------------------------------------- images and normalization
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def digit_images(batch: int, seed: int = 0) -> np.ndarray:
    return rows(batch, (1, 8, 8), np.float32, seed, low=0.0, high=1.0)


def trained_digits_cnn() -> nn.Sequential:
    """examples/digits_cnn.py's network in float32, after a few Adam steps on random images
    (so that its running statistics are far from 0 and 1), in eval mode."""
    spec = importlib.util.spec_from_file_location("digits_cnn", EXAMPLES / "digits_cnn.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    tg.manual_seed(0)
    model = example.build_model().to(np.float32)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    labels = np.random.default_rng(0).integers(0, 10, size=(3, 16))
    for step in range(3):
        loss = F.cross_entropy(model(digit_images(16, seed=10 + step)), labels[step])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def buffer_values(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: buffer.numpy().copy() for name, buffer in model.named_buffers()}


def test_the_digits_cnn_in_eval_mode_matches_onnxruntime(tmp_path):
    model = trained_digits_cnn()
    buffers = buffer_values(model)
    assert np.abs(buffers["5.running_var"] - 1).max() > 0.1
    path = exported(model, digit_images(3), tmp_path / "cnn.onnx")
    graph = onnx.load(path).graph
    block = ["Conv", "BatchNormalization", "Relu", "MaxPool"]
    # Flatten is a Reshape; dropout in eval mode records nothing.
    assert [node.op_type for node in graph.node] == [*block, *block, "Reshape", "Gemm"]
    assert dims(graph.input[0]) == ["batch", 1, 8, 8] and dims(graph.output[0]) == ["batch", 10]
    stored = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for name, values in buffers.items():
        if name.endswith(("running_mean", "running_var")):
            np.testing.assert_array_equal(stored[name], values)
        else:
            assert name not in stored  # the batch counters
    assert {name for name, _ in model.named_parameters()} <= set(stored)
    for batch in BATCHES:
        assert_same(model, path, digit_images(batch, seed=batch))
    assert all(
        np.array_equal(model_values, buffers[name])
        for name, model_values in buffer_values(model).items()
    )


def test_batch_norm_and_dropout_in_training_mode_are_errors_before_anything_runs(tmp_path):
    model = trained_digits_cnn()
    model.train()
    buffers = buffer_values(model)
    with pytest.raises(
        ExportError, match=r"layer '1' \(BatchNorm2d\) is in training mode.*call model\.eval\(\)"
    ):
        export(model, digit_images(3), tmp_path / "cnn.onnx")
    # Nothing ran: the running statistics and the batch counters are as they were.
    for name, values in buffer_values(model).items():
        np.testing.assert_array_equal(values, buffers[name])
    model.eval()
    model[9].train()
    with pytest.raises(
        ExportError, match=r"layer '9' \(Dropout\) is in training mode.*call model\.eval\(\)"
    ):
        export(model, digit_images(3), tmp_path / "cnn.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            lambda x: F.dropout(x, 0.5),
            r"F\.dropout is in training mode.*training=False to F\.dropout",
        ),
        (lambda x: nn.Dropout(0.5)(x), r"Dropout is in training mode.*call model\.eval\(\)"),
        (
            lambda x: F.batch_norm(x, None, None, training=True),
            r"F\.batch_norm is in training mode.*pass training=False and the running statistics",
        ),
        (
            lambda x: nn.BatchNorm1d(4, track_running_stats=False).eval()(x),
            r"BatchNorm1d has no running statistics \(track_running_stats=False\)",
        ),
    ],
)
def test_dropout_and_batch_statistics_in_a_function_are_errors(fn, message, tmp_path):
    with pytest.raises(ExportError, match=message):
        export(fn, rows(3, 4, np.float32), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_dropout_that_drops_nothing_records_nothing(tmp_path):
    tg.manual_seed(0)
    for model in (
        nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5)).eval(),
        nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.0)),  # training mode, p = 0
    ):
        path = exported(model, rows(3, 4, np.float64), tmp_path / "m.onnx")
        assert [node.op_type for node in onnx.load(path).graph.node] == ["Gemm"]
        assert_same(model, path, rows(5, 4, np.float64, seed=1))


def test_float64_batch_norm_adds_all_of_eps(tmp_path):
    # epsilon is a float32 attribute; where the variance is near 0, eps rounded to float32
    # would change the result by 1e-8 (relative).
    variance = np.array([0.0, 1e-7, 1.5])
    layer = trained_statistics(nn.BatchNorm2d(3), np.float64, variance)
    x = rows(3, (3, 2, 2), np.float64)
    path = exported(layer, x, tmp_path / "layer.onnx")
    graph = onnx.load(path).graph
    assert [node.op_type for node in graph.node] == ["Add", "BatchNormalization"]
    assert {"running_mean", "running_var"} <= {init.name for init in graph.initializer}
    statistics = (layer.running_mean.numpy(), variance)
    fn = lambda t: F.batch_norm(t, *statistics)  # noqa: E731 - copies of the statistics
    function_path = exported(fn, x, tmp_path / "function.onnx")
    for batch in BATCHES:
        assert_same(layer, path, rows(batch, (3, 2, 2), np.float64, seed=batch))
        assert_same(fn, function_path, rows(batch, (3, 2, 2), np.float64, seed=batch))


@pytest.mark.parametrize(
    ("dtype", "eps", "one_node"),
    [(np.float32, 1e-5, True), (np.float64, 2.0**-10, True), (np.float64, 1e-5, False)],
)
def test_layer_norm_is_one_node_unless_float32_cannot_hold_a_float64_eps(
    dtype, eps, one_node, tmp_path
):
    def fn(x):
        return F.layer_norm(x, 6, eps=eps)

    def samples(batch: int, seed: int) -> np.ndarray:
        # In float64, rows of variance ~1e-7, where eps rounded to float32 would show.
        spread = 1e-3 if dtype == np.float64 else 1.0
        return (1.0 + spread * rows(batch, 6, np.float64, seed)).astype(dtype)

    path = exported(fn, samples(3, seed=0), tmp_path / "m.onnx")
    assert ("LayerNormalization" in op_types(onnx.load(path).graph)) == one_node
    for batch in BATCHES:
        assert_same(fn, path, samples(batch, seed=batch))


@pytest.mark.parametrize(
    ("layer", "normalize"),
    [
        (lambda: trained_statistics(nn.BatchNorm1d(4), np.float64), "BatchNormalization"),
        (lambda: nn.LayerNorm(4), "LayerNormalization"),
    ],
)
def test_a_float32_input_is_normalized_in_float32_then_meets_float64_parameters(
    layer, normalize, tmp_path
):
    model = layer()  # float64 parameters
    path = exported(model, rows(3, 4, np.float32), tmp_path / "m.onnx")
    kinds = [node.op_type for node in onnx.load(path).graph.node]
    assert kinds[kinds.index(normalize) :] == [normalize, "Cast", "Mul", "Add"]
    for batch in BATCHES:
        x = rows(batch, 4, np.float32, seed=batch)
        (theirs,), (ours,) = run_onnx(path, x), run_ours(model, x)
        assert theirs.dtype == ours.dtype == np.float64
        # x̂ is float32 in both, computed in another order: float32's tolerance.
        np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-6)


def test_a_window_read_from_the_batch_size_is_an_error(tmp_path):
    def pool(x):
        return F.max_pool2d(x, 2, stride=1 if len(x) == 3 else 2)

    with pytest.raises(ExportError, match=r"the stride of max_pool2d is a value .* changed value"):
        export(pool, images(3, np.float32, seed=0), tmp_path / "m.onnx")


def test_onnxruntime_has_no_float64_conv_or_average_pool(tmp_path):
    # Why run_onnx runs such files with onnx's reference evaluator, as docs/onnx.md says.
    for fn in (lambda x: conv(x, "plain"), lambda x: F.avg_pool2d(x, 2)):
        path = exported(fn, images(3, np.float64, seed=0), tmp_path / "m.onnx")
        with pytest.raises(ort.capi.onnxruntime_pybind11_state.NotImplemented):
            ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------- dynamic batch
def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


class Flattening(nn.Module):
    """Images of (batch, 2, 3, 4) to logits, through a flatten and a reshape."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        per_row = x.flatten(1).reshape(x.shape[0] * 2, 12)  # the batch merged into rows
        return self.fc(per_row).reshape(x.shape[0], -1).softmax(axis=-1)


def test_flatten_and_reshape_follow_the_batch_size(tmp_path):
    tg.manual_seed(0)
    model = Flattening()
    path = exported(model, rows(3, (2, 3, 4), np.float64), tmp_path / "flat.onnx")
    graph = onnx.load(path).graph
    assert dims(graph.input[0]) == ["batch", 2, 3, 4]
    assert dims(graph.output[0]) == ["batch", 10]
    for batch in (1, 2, 7, 20):
        assert_same(model, path, rows(batch, (2, 3, 4), np.float64, seed=batch))


def test_a_reshape_to_the_examples_batch_size_is_an_error_unless_fixed(tmp_path):
    fn = lambda x: x.reshape(3, 2, 2).sum(axis=2)  # noqa: E731 - 3 is the example's batch
    with pytest.raises(ExportError, match=r"batch size 4 .*x\.shape or with -1"):
        export(fn, rows(3, 4, np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    path = exported(fn, rows(3, 4, np.float32), tmp_path / "m.onnx", dynamic_batch=False)
    graph = onnx.load(path).graph
    assert dims(graph.input[0]) == [3, 4] and dims(graph.output[0]) == [3, 2]
    assert_same(fn, path, rows(3, 4, np.float32, seed=1))


def test_an_output_whose_first_axis_is_not_the_batch_is_an_error(tmp_path):
    with pytest.raises(ExportError, match=r"output 0 has shape \(12,\).*not the batch size"):
        export(lambda x: x.reshape(-1), rows(3, 4, np.float64), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match=r"output 0 has shape \(4, 3\).*axes \[1\] follow"):
        export(lambda x: x.T, rows(3, 4, np.float64), tmp_path / "m.onnx")


def test_dynamic_batch_needs_a_first_axis_of_one_size(tmp_path):
    with pytest.raises(ValueError, match="no batch rows"):
        export(lambda x: x * 2, np.ones((), np.float64), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"sizes \[3, 5\]"):
        export(lambda a, b: a.sum() + b.sum(), (np.ones((3, 2)), np.ones((5, 2))), tmp_path / "m")
    path = exported(
        lambda x: x * 2, np.ones((), np.float64), tmp_path / "s.onnx", dynamic_batch=False
    )
    assert run_onnx(path, np.array(4.0))[0] == 8.0


def test_fixed_batch_writes_the_example_shapes(tmp_path):
    tg.manual_seed(0)
    model = two_moons_net()
    path = exported(model, rows(7, 2, np.float64), tmp_path / "m.onnx", dynamic_batch=False)
    graph = onnx.load(path).graph
    assert dims(graph.input[0]) == [7, 2] and dims(graph.output[0]) == [7, 2]
    assert_same(model, path, rows(7, 2, np.float64, seed=3))


# ---------------------------------------------------------------------- names and structure
def test_input_and_output_names(tmp_path):
    def fn(x, y):
        return (x * y).tanh(), x + y

    example = (rows(2, 3, np.float64), rows(2, 3, np.float64, seed=1))
    path = exported(
        fn, example, tmp_path / "m.onnx", input_names=["x", "y"], output_names=["a", "b"]
    )
    graph = onnx.load(path).graph
    assert [i.name for i in graph.input] == ["x", "y"]
    assert [o.name for o in graph.output] == ["a", "b"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    a, b = session.run(["a", "b"], {"x": example[0], "y": example[1]})
    np.testing.assert_allclose(a, np.tanh(example[0] * example[1]), rtol=1e-12)
    np.testing.assert_allclose(b, example[0] + example[1], rtol=1e-12)
    default = onnx.load(exported(fn, example, tmp_path / "d.onnx")).graph
    assert [i.name for i in default.input] == ["input_0", "input_1"]
    assert [o.name for o in default.output] == ["output_0", "output_1"]
    single = onnx.load(exported(lambda x: x.exp(), example[0], tmp_path / "s.onnx")).graph
    assert [single.input[0].name, single.output[0].name] == ["input", "output"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_names": ["a", "b"]}, r"input_names has 2 name\(s\) but the model has 1 input"),
        ({"output_names": []}, r"output_names has 0 name\(s\) but the model has 1 output"),
        ({"output_names": ["o", "p"]}, "give exactly one name per output"),
        ({"input_names": ["x"], "output_names": ["x"]}, "both an input and an output name"),
        ({"input_names": ["0.weight"]}, "parameter name"),
    ],
)
def test_wrong_names_are_errors_and_write_nothing(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export(two_moons_net(), rows(2, 2, np.float64), tmp_path / "m.onnx", **kwargs)
    assert not (tmp_path / "m.onnx").exists()


def test_repeated_names_are_errors(tmp_path):
    with pytest.raises(ValueError, match=r"repeats \['x'\]"):
        export(lambda a, b: a + b, (np.ones((2, 2)),) * 2, tmp_path / "m", input_names=["x", "x"])


def test_outputs_may_repeat_or_be_an_input(tmp_path):
    def fn(x):
        y = x.relu()
        return y, y, x

    x = rows(3, 4, np.float32)
    path = exported(fn, x, tmp_path / "m.onnx")
    assert_same(fn, path, rows(5, 4, np.float32, seed=2))


def test_parameters_keep_their_names_and_other_leaves_are_constants(tmp_path):
    tg.manual_seed(0)
    model = l_layer_sigmoid()
    model[2].weight.requires_grad = False  # frozen: seen as a plain array, still named
    path = exported(model, rows(3, 5, np.float64), tmp_path / "m.onnx")
    names = {init.name for init in onnx.load(path).graph.initializer}
    assert names == {name for name, _ in model.named_parameters()}
    scale = tg.tensor(np.array([2.0, 3.0, 4.0, 5.0]), requires_grad=True)
    fn = lambda x: x * scale + np.ones(4)  # noqa: E731
    graph = onnx.load(exported(fn, rows(3, 4, np.float64), tmp_path / "f.onnx")).graph
    assert sorted(init.name for init in graph.initializer) == ["const_0", "const_1"]


def test_constants_take_the_dtype_of_the_values_they_meet(tmp_path):
    def fn(x):
        # float64 constants with a float32 input: NumPy keeps float32 for Python floats.
        return x * 0.1 + np.float32(2.5) - x / 3

    path = exported(fn, rows(3, 4, np.float32), tmp_path / "m.onnx")
    assert {init.data_type for init in onnx.load(path).graph.initializer} == {
        onnx.TensorProto.FLOAT
    }
    assert_same(fn, path, rows(4, 4, np.float32, seed=1))


def test_a_float64_value_met_by_a_float32_input_is_cast(tmp_path):
    fn = lambda x: x * np.array([1.0, 2.0, 3.0, 4.0])  # noqa: E731 - float64 array
    path = exported(fn, rows(3, 4, np.float32), tmp_path / "m.onnx")
    assert "Cast" in [node.op_type for node in onnx.load(path).graph.node]
    assert_same(fn, path, rows(4, 4, np.float32, seed=1))


def test_node_names_follow_the_module_tree(tmp_path):
    tg.manual_seed(0)
    path = exported(two_moons_net(), rows(2, 2, np.float64), tmp_path / "m.onnx")
    assert [node.name for node in onnx.load(path).graph.node] == [
        "0/Gemm_0",
        "1/Tanh_0",
        "2/Gemm_1",
    ]


def test_nodes_follow_the_order_the_ops_ran(tmp_path):
    def two_branches(x):
        first, second = x.tanh(), x.exp()
        return first * 3.0 + second * 2.0  # branch by branch would put a Mul before Exp

    path = exported(two_branches, rows(2, 3, np.float64), tmp_path / "m.onnx")
    nodes = onnx.load(path).graph.node
    assert [node.op_type for node in nodes] == ["Tanh", "Exp", "Mul", "Mul", "Add"]
    assert [node.input[0] for node in nodes[2:4]] == [nodes[0].output[0], nodes[1].output[0]]
    assert list(nodes[4].input) == [nodes[2].output[0], nodes[3].output[0]]


def test_a_long_chain_exports(tmp_path):
    def fn(x):
        for _ in range(2000):
            x = x * 1.0001
        return x

    path = exported(fn, rows(2, 3, np.float64), tmp_path / "m.onnx")
    assert_same(fn, path, rows(4, 3, np.float64, seed=1))


def test_a_newer_opset_can_be_asked_for(tmp_path):
    tg.manual_seed(0)
    model = two_moons_softmax()
    path = exported(model, rows(2, 2, np.float32), tmp_path / "m.onnx", opset=21)
    assert onnx.load(path).opset_import[0].version == 21
    assert_same(model, path, rows(5, 2, np.float32))
    for opset in (13, 10_000):
        with pytest.raises(ValueError, match=f"opset {opset} is not supported"):
            export(model, rows(2, 2, np.float32), tmp_path / "o.onnx", opset=opset)
    with pytest.raises(TypeError, match="opset must be an integer"):
        export(model, rows(2, 2, np.float32), tmp_path / "o.onnx", opset="18")


# ---------------------------------------------------------------------- errors
class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x**3

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError


@pytest.mark.parametrize(
    ("fn", "op"),
    [
        (lambda x: F.mse_loss(x, np.zeros((3, 4))), "mse_loss"),
        (lambda x: F.cross_entropy(x, np.array([0, 1, 2])), "cross_entropy"),
        (lambda x: x[:, 1:3] * 2, "getitem"),
        (lambda x: Cube.apply(x) + 1, "Cube"),
    ],
)
def test_an_op_without_mapping_is_named_and_nothing_is_written(fn, op, tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match=f"the op '{op}' has no ONNX mapping") as raised:
        export(fn, rows(3, 4, np.float64), target)
    assert "linear" in str(raised.value) and "softmax" in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_an_error_leaves_an_existing_file_untouched(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous export")
    with pytest.raises(ExportError):
        export(lambda x: x[:, 0], rows(3, 4, np.float64), target)
    assert target.read_bytes() == b"previous export"
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import tinygrad_ann.files

    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous export")

    def failing_fsync(descriptor):
        raise OSError("disk full")

    monkeypatch.setattr(tinygrad_ann.files.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        export(two_moons_net(), rows(2, 2, np.float64), target)
    monkeypatch.undo()
    assert target.read_bytes() == b"previous export"
    assert list(tmp_path.iterdir()) == [target]
    export(two_moons_net(), rows(2, 2, np.float64), target)
    onnx.checker.check_model(onnx.load(target), full_check=True)


@pytest.mark.parametrize(
    ("example", "error", "message"),
    [
        ([[1.0, 2.0]], TypeError, "example input 0 is a list; pass a Tensor or a NumPy array"),
        (1.5, TypeError, "example input 0 is a float"),
        ((), ValueError, "example_inputs is empty"),
        (np.ones((2, 2), dtype=np.int64), tg.DTypeError, "dtype int64"),
    ],
)
def test_wrong_example_inputs_are_errors(example, error, message, tmp_path):
    with pytest.raises(error, match=message):
        export(lambda x: x * 2, example, tmp_path / "m.onnx")


def test_outputs_must_be_computed_from_the_inputs(tmp_path):
    x = rows(3, 4, np.float64)
    with pytest.raises(ExportError, match=r"output 0 .* does not depend on the inputs: it has no"):
        export(lambda t: tg.tensor(t.numpy() * 2), x, tmp_path / "m.onnx")
    weight = tg.ones(4, requires_grad=True)
    with pytest.raises(ExportError, match=r"output 1 .*from parameters or constants only"):
        export(lambda t: (t * 2, weight * 3), x, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="returned a ndarray; it must return a Tensor"):
        export(lambda t: t.numpy(), x, tmp_path / "m.onnx")
    with pytest.raises(TypeError, match=r"model_or_fn must be an nn\.Module or a function"):
        export(nn.Linear(4, 2).weight, x, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dynamic_batch", [True, False])
def test_a_mask_made_outside_the_graph_is_an_error_not_frozen(dynamic_batch, tmp_path):
    def leaky(x):
        return tg.where(x > 0, x, 0.1 * x)  # x > 0 is not recorded

    with pytest.raises(ExportError, match="input 0 of where is a value the recorded graph"):
        export(leaky, rows(3, 4, np.float64), tmp_path / "m.onnx", dynamic_batch=dynamic_batch)
    assert not (tmp_path / "m.onnx").exists()
    leaky_ops = lambda x: F.leaky_relu(x, 0.1)  # noqa: E731 - the recorded equivalent
    path = exported(leaky_ops, rows(3, 4, np.float64), tmp_path / "m.onnx")
    assert_same(leaky_ops, path, rows(6, 4, np.float64, seed=1))


def test_an_option_read_from_the_inputs_is_an_error(tmp_path):
    def clip_at_mean(x):
        return x.clip(float(x.numpy().mean()), None)

    with pytest.raises(ExportError, match="the lower bound of clip is a value the recorded"):
        export(clip_at_mean, rows(3, 4, np.float64), tmp_path / "m.onnx")


def test_a_graph_that_depends_on_the_batch_size_is_an_error(tmp_path):
    def branchy(x):
        return x * 2 if x.shape[0] < 4 else x + 1

    with pytest.raises(ExportError, match=r"recorded a different graph .*op 0 was mul, then add"):
        export(branchy, rows(3, 4, np.float64), tmp_path / "m.onnx")


def test_without_onnx_the_import_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # None makes `import onnx` fail
    monkeypatch.delitem(sys.modules, "tinygrad_ann.onnx")
    with pytest.raises(ImportError, match=r'pip install "tinygrad_ann\[onnx\]"'):
        importlib.import_module("tinygrad_ann.onnx")
