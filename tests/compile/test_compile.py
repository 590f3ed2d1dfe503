"""``tg.compile``: a replay equals eager bit for bit, reads current values, records again when
the signature changes, joins eager autograd, and refuses what it cannot replay."""

import gc
import threading
import tracemalloc

import numpy as np
import pytest
from plan_kinds import plan_kind  # noqa: F401 - every test runs with both forms

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn, optim
from tinygrad_ann.compile import compiled as compiled_module
from tinygrad_ann.teaching import demo


def mlp(seed: int = 0) -> nn.Module:
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def batches(count: int, size: int = 6, seed: int = 1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(size, 4)), rng.integers(0, 3, size)) for _ in range(count)]


def assert_same_parameters(a: nn.Module, b: nn.Module) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert p.data.dtype == q.data.dtype and np.array_equal(p.data, q.data), name


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
        lambda params: optim.Adam(params, lr=0.01),
    ],
)
def test_training_compiled_equals_eager_bit_for_bit(make_optimizer):
    eager, compiled = mlp(), mlp()
    eager_opt = make_optimizer(eager.parameters())
    compiled_opt = make_optimizer(compiled.parameters())
    step = tg.compile(lambda x, y: F.cross_entropy(compiled(x), y))
    for x, y in batches(6):
        expected = F.cross_entropy(eager(tg.tensor(x)), y)
        eager_opt.zero_grad()
        expected.backward()
        eager_opt.step()
        loss = step(x, y)
        compiled_opt.zero_grad()
        loss.backward()
        compiled_opt.step()
        assert loss.item() == expected.item()
        assert_same_parameters(eager, compiled)
    assert step.recordings == 1


def test_gradient_reaches_arguments_that_require_grad():
    step = tg.compile(lambda a, b: (a * b).tanh().sum())
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a = tg.tensor(rng.normal(size=3), requires_grad=True)
        b = tg.tensor(rng.normal(size=3), requires_grad=True)
        step(a, b).backward()
        a2, b2 = a.detach().requires_grad_(), b.detach().requires_grad_()
        (a2 * b2).tanh().sum().backward()
        assert np.array_equal(a.grad.data, a2.grad.data)
        assert np.array_equal(b.grad.data, b2.grad.data)
    assert step.recordings == 1


def test_a_replay_reads_the_current_parameters_after_step_load_and_in_place_changes():
    model = mlp()
    step = tg.compile(lambda x: model(x).sum())
    x = np.ones((2, 4))
    step(x)
    model.load_state_dict(mlp(seed=5).state_dict())
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    with tg.no_grad():
        model[0].weight *= 2.0
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    model[0].weight.data = model[0].weight.data + 1.0  # a new array behind the parameter
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    assert step.recordings == 1


def test_a_new_signature_records_again_and_alternating_shapes_reuse_their_plans():
    model = mlp()
    step = tg.compile(lambda x: model(x).sum())
    small, large = np.ones((2, 4)), np.ones((5, 4))
    for _ in range(3):
        assert step(small).item() == model(tg.tensor(small)).sum().item()
        assert step(large).item() == model(tg.tensor(large)).sum().item()
    assert step.recordings == 2
    step(small.astype(np.float32))  # dtype
    assert step.recordings == 3
    with tg.no_grad():  # grad mode
        assert step(small).requires_grad is False
    assert step.recordings == 4
    model.eval()  # a module's mode
    step(small)
    assert step.recordings == 5
    model.train()
    model[0].weight.requires_grad_(False)  # a parameter's requires_grad
    out = step(small)
    assert step.recordings == 6
    out.backward()
    assert model[0].weight.grad is None and model[2].weight.grad is not None


def test_plain_values_are_part_of_the_signature():
    step = tg.compile(lambda x, scale: (x * scale).sum())
    x = tg.ones(3)
    assert step(x, 2.0).item() == 6.0
    assert step(x, 3.0).item() == 9.0
    assert step.recordings == 2


def test_the_cache_keeps_the_most_recent_plans():
    step = tg.compile(lambda x: x.sum())
    for size in range(1, tg.compile.__globals__["CACHE_SIZE"] + 3):
        step(tg.ones(size))
    recorded = step.recordings
    step(tg.ones(1))  # dropped: recorded again
    assert step.recordings == recorded + 1
    step(tg.ones(tg.compile.__globals__["CACHE_SIZE"] + 2))  # kept
    assert step.recordings == recorded + 1


def test_results_of_earlier_calls_are_never_overwritten_and_grads_accumulate():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    first = step(tg.tensor([1.0, 1.0]))
    second = step(tg.tensor([3.0, 5.0]))
    assert first.item() == 3.0 and second.item() == 13.0
    first.backward()
    second.backward()
    assert w.grad.tolist() == [4.0, 6.0]
    with pytest.raises(RuntimeError, match="a second time"):
        first.backward()
    third = step(tg.tensor([1.0, 0.0]))
    third.backward(retain_graph=True)
    third.backward()
    assert w.grad.tolist() == [6.0, 6.0]


def test_a_replay_combines_with_eager_ops():
    w = tg.tensor([1.0, -2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).tanh().sum())
    x = tg.tensor([0.5, 0.25])
    for _ in range(2):
        w.grad = None
        (step(x) * 3 + (w**2).sum()).backward()
        compiled = w.grad.data.copy()
        w.grad = None
        ((x * w).tanh().sum() * 3 + (w**2).sum()).backward()
        assert np.array_equal(compiled, w.grad.data)


def test_plan_shows_one_op_per_line_forward_then_backward():
    model = mlp()
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y))
    with pytest.raises(tg.CompileError, match="nothing recorded"):
        step.plan()
    step(np.ones((2, 4)), np.array([0, 2]))
    text = step.plan()
    forward, backward = text.split("# backward")
    assert [line.split(" = ")[1].split("(")[0] for line in forward.splitlines()[1:5]] == [
        "linear",
        "tanh",
        "linear",
        "cross_entropy",
    ]
    assert "cross_entropy.backward(g_t3)" in backward
    assert backward.strip().endswith("return g_e0, g_e1, g_e2, g_e3")


def test_vjps_nobody_needs_are_left_out_of_backward():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x.exp() * w).sum())  # exp's input needs no gradient
    step(tg.tensor([0.0, 1.0]))
    backward = step.plan().split("# backward")[1]
    assert "exp.backward" not in backward and "mul.backward" in backward


@pytest.mark.parametrize(
    "read",
    [
        lambda t: t.item(),
        lambda t: float(t),
        lambda t: int(t),
        lambda t: bool(t),
        lambda t: t.tolist(),
        lambda t: t.numpy(),
        lambda t: np.asarray(t),
        lambda t: 1 if t > 0 else 0,
    ],
)
def test_reading_a_value_into_python_while_recording_is_refused_naming_the_line(read):
    def function(x):
        total = x.sum()
        read(total)
        return total

    with pytest.raises(tg.CompileError, match=r"test_compile\.py:\d+"):
        tg.compile(function)(tg.ones(1))
    assert tg.ones(1).sum().item() == 1.0  # reads outside a recording are fine again


@pytest.mark.parametrize(
    "returned, message",
    [
        (lambda x: (x.sum(), 3.0), r"a tuple of \(Tensor, float\)"),
        (lambda x: 3.0, "must return a Tensor .* got a float"),
        (lambda x: (), r"got a tuple of \(\)"),
    ],
)
def test_what_is_not_a_tensor_or_tensors_is_refused(returned, message):
    with pytest.raises(tg.CompileError, match=message):
        tg.compile(returned)(tg.ones(2))


def test_unhashable_plain_arguments_are_refused():
    with pytest.raises(tg.CompileError, match="argument 1 is a list"):
        tg.compile(lambda x, items: x.sum())(tg.ones(2), [1, 2])


def test_hooks_a_replay_could_not_run_are_refused():
    def hooked(x):
        y = x * 2
        y.register_hook(lambda grad: grad)
        return y.sum()

    with pytest.raises(tg.CompileError, match="hook"):
        tg.compile(hooked)(tg.ones(2, requires_grad=True))
    layer = nn.Linear(2, 2)
    layer.register_forward_hook(lambda module, inputs, output: None)
    with pytest.raises(tg.CompileError, match="forward hooks"):
        tg.compile(lambda x: layer(x).sum())(tg.ones(1, 2))


def test_hooks_on_parameters_run_as_in_eager():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda grad: seen.append(grad.tolist()))
    step = tg.compile(lambda x: (x * w).sum())
    step(tg.tensor([3.0, 4.0])).backward()
    step(tg.tensor([5.0, 6.0])).backward()
    assert seen == [[3.0, 4.0], [5.0, 6.0]]


def test_create_graph_through_a_replay_is_refused():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w * w).sum())
    step(tg.ones(2))
    with pytest.raises(tg.CompileError, match="create_graph"):
        tg.grad(step(tg.ones(2)), w, create_graph=True)


def test_anomaly_mode_runs_the_function_eagerly():
    w = tg.tensor([1.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).log().sum())
    step(tg.ones(1))
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError):
        step(tg.tensor([-1.0])).backward()


def test_check_names_the_op_that_reads_data_behind_the_recording():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    def scaled(x):
        scale = float(np.abs(x.data).max())  # computed outside the ops: frozen in the plan
        return (x * w * scale).sum()

    step = tg.compile(scaled, check=True)
    step(tg.tensor([1.0, 2.0]))
    assert step(tg.tensor([2.0, 1.0])).item() == 8.0  # same scale: nothing differs
    with pytest.raises(tg.CompileError, match=r"op 1 \(mul, at .*test_compile\.py"):
        step(tg.tensor([3.0, 1.0]))


def test_check_passes_a_faithful_function_and_keeps_random_state():
    model = mlp()
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y), check=True)
    for x, y in batches(3):
        tg.manual_seed(7)
        loss = step(x, y)
        after = tg.rand(2).tolist()
        tg.manual_seed(7)
        assert loss.item() == F.cross_entropy(model(tg.tensor(x)), y).item()
        assert tg.rand(2).tolist() == after


def test_a_compiled_function_called_while_another_records_is_refused():
    inner = tg.compile(lambda x: x.sum())
    outer = tg.compile(lambda x: inner(x) * 2)
    with pytest.raises(tg.CompileError, match="another one records"):
        outer(tg.ones(2))


def test_another_thread_is_not_recorded_meanwhile():
    started, release = threading.Event(), threading.Event()
    results = []

    def slow(x):
        started.set()
        release.wait(5)
        return x.sum()

    def other():
        started.wait(5)
        results.append((tg.ones(2) * 3).sum().item())  # eager, and a value read: allowed
        release.set()

    thread = threading.Thread(target=other)
    thread.start()
    step = tg.compile(slow)
    step(tg.ones(2))
    thread.join()
    assert results == [6.0]
    assert "mul" not in step.plan()


def memory_growth(step, model, replays):
    """Bytes still allocated after ``replays`` training steps of ``step`` (its first result
    the loss), beyond what 200 steps left, after a warm-up."""
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x, y = batches(1)[0]

    def train(count):
        for _ in range(count):
            result = step(x, y)
            loss = result[0] if isinstance(result, tuple) else result
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    train(50)
    gc.collect()
    tracemalloc.start()
    train(200)
    gc.collect()
    first, _ = tracemalloc.get_traced_memory()
    train(replays)
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return second - first


def test_memory_stays_flat_over_ten_thousand_replays(monkeypatch):
    # Each form measured alone: a plan's one upgrade from kernels to straight-line code
    # (its source and code objects, once) is not growth over replays.
    monkeypatch.setattr(compiled_module, "UPGRADE_AFTER", 10**9)
    monkeypatch.setattr(compiled_module, "SIMPLIFY_AFTER", 10**9)
    model = mlp()
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y))
    assert memory_growth(step, model, 10_000) < 20_000


def test_masks_from_comparisons_and_indices_from_argmax_are_replayed_fresh():
    step = tg.compile(lambda x: tg.where(x > 0, x, x * 0.1).sum() + x.max(dim=0).indices.sum())
    for values in ([1.0, -2.0, 3.0], [-1.0, 2.0, -3.0], [0.5, 0.25, -4.0]):
        x = tg.tensor(values)
        expected = tg.where(x > 0, x, x * 0.1).sum() + x.max(dim=0).indices.sum()
        assert step(x).item() == expected.item()
    assert step.recordings == 1


def test_dropout_draws_fresh_masks_in_eager_order_and_batch_norm_updates_as_eager():
    def make():
        tg.manual_seed(3)
        return nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)
        )

    eager, compiled = make(), make()
    step = tg.compile(lambda x, y: F.cross_entropy(compiled(x), y))
    tg.manual_seed(11)
    eager_losses = []
    for x, y in batches(4, size=8):
        loss = F.cross_entropy(eager(tg.tensor(x)), y)
        loss.backward()
        eager_losses.append(loss.item())
    tg.manual_seed(11)
    compiled_losses = []
    for x, y in batches(4, size=8):
        loss = step(x, y)
        loss.backward()
        compiled_losses.append(loss.item())
    assert compiled_losses == eager_losses and len(set(compiled_losses)) == 4
    for (name, a), (_, b) in zip(eager.state_dict().items(), compiled.state_dict().items()):
        assert np.array_equal(a.data, b.data), name
    for p, q in zip(eager.parameters(), compiled.parameters()):
        assert np.array_equal(p.grad.data, q.grad.data)
    compiled.eval()
    eager.eval()
    x = tg.tensor(batches(1, size=8)[0][0])
    assert np.array_equal(
        step(x, np.zeros(8, int)).data, F.cross_entropy(eager(x), np.zeros(8, int)).data
    )


def test_a_bad_label_in_a_replay_raises_as_in_eager():
    model = mlp()
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y))
    step(np.ones((2, 4)), np.array([0, 1]))
    with pytest.raises(tg.LabelError, match="class index 7"):
        step(np.ones((2, 4)), np.array([0, 7]))


@pytest.mark.parametrize(
    "change",
    [
        lambda x: x.add_(1.0),
        lambda x: x.clamp_(min=0.0),
        lambda x: x.__setitem__(0, 5.0),
    ],
)
def test_in_place_changes_while_recording_are_refused(change):
    def function(x):
        y = x * 2
        change(y)
        return y.sum()

    with pytest.raises(tg.CompileError, match="in place"):
        tg.compile(function)(tg.ones(2))


@pytest.mark.parametrize("draw", [lambda: tg.rand(2), lambda: tg.randn(2)])
def test_random_numbers_drawn_while_recording_are_refused(draw):
    with pytest.raises(tg.CompileError, match="random numbers"):
        tg.compile(lambda x: (x + draw()).sum())(tg.ones(2))


def test_a_plan_upgraded_to_straight_line_code_keeps_its_results_and_pending_backwards(
    monkeypatch,
):
    from tinygrad_ann.compile import compiled, plan

    kernels_first = plan._KERNELS_FIRST  # set by plan_kind

    monkeypatch.setattr(compiled, "UPGRADE_AFTER", 3)
    w = tg.tensor([0.5, -1.5], requires_grad=True)
    step = tg.compile(lambda x: (x * w).tanh().sum())
    x = tg.tensor([1.0, 2.0])
    step(x)
    pending = [step(x), step(x)]  # the plan's 1st and 2nd replays
    assert bool(step._last.plan.source) is not kernels_first
    after = step(x)  # the 3rd: now straight-line code
    assert step._last.plan.source
    for loss in [*pending, after]:
        w.grad = None
        loss.backward()  # each with the form of plan that ran its forward
        expected = w.detach().requires_grad_()
        (x * expected).tanh().sum().backward()
        assert np.array_equal(w.grad.data, expected.grad.data)
    assert step.recordings == 1


def test_straight_line_code_is_simplified_later_and_pending_backwards_keep_their_form(
    monkeypatch,
):
    from tinygrad_ann.compile import compiled

    monkeypatch.setattr(compiled, "UPGRADE_AFTER", 2)
    monkeypatch.setattr(compiled, "SIMPLIFY_AFTER", 4)
    w = tg.tensor([0.5, -1.5], requires_grad=True)
    step = tg.compile(lambda x: (x * w).tanh().sum())
    x = tg.tensor([1.0, 2.0])
    pending = [step(x) for _ in range(6)]  # recorded, then replays 1 to 5
    plan = step._last.plan
    assert plan.simplified and "needs" not in plan.source
    for loss in pending:
        w.grad = None
        loss.backward()  # each with the code that ran its forward
        expected = w.detach().requires_grad_()
        (x * expected).tanh().sum().backward()
        assert np.array_equal(w.grad.data, expected.grad.data)


def test_the_source_of_a_checked_plan_is_simplified_and_still_checks():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    def scaled(x):
        return (x * w * float(np.abs(x.data).max())).sum()  # raw NumPy: frozen

    checked = tg.compile(scaled, check=True)
    checked(tg.tensor([1.0, 2.0]))
    assert "needs" not in checked.plan(source=True)
    with pytest.raises(tg.CompileError, match="check=True: op 1"):
        checked(tg.tensor([3.0, 1.0]))


def test_plan_source_is_the_ops_own_numpy_lines_inlined():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).tanh().sum())
    step(tg.ones(2))
    source = step.plan(source=True)
    assert "def forward(" in source and "def backward(" in source
    assert "np.tanh(" in source  # Tanh.forward's own line, not a call of it
    assert "forward(c" not in source  # no op is called through its method
    x = tg.tensor([0.5, -0.25])
    w.grad = None
    step(x).backward()  # runs as that code now
    expected = w.detach().requires_grad_()
    (x * expected).tanh().sum().backward()
    assert np.array_equal(w.grad.data, expected.grad.data)


def test_a_module_compiles_as_torch_compile_takes_one_and_its_options_are_refused_clearly():
    model = mlp()
    compiled = tg.compile(model)
    x = np.ones((3, 4))
    assert np.array_equal(compiled(x).data, model(tg.tensor(x)).data)
    assert np.array_equal(compiled(x).data, model(tg.tensor(x)).data)
    assert compiled.recordings == 1
    with pytest.raises(TypeError, match=r"takes no mode=, fullgraph= \(options of torch.compile"):
        tg.compile(model, mode="reduce-overhead", fullgraph=True)


def test_two_threads_share_a_compiled_function():
    model = mlp()
    step = tg.compile(lambda x: model(x).sum())
    inputs = {size: np.random.default_rng(size).normal(size=(size, 4)) for size in (2, 3, 5)}
    expected = {size: model(tg.tensor(x)).sum().item() for size, x in inputs.items()}
    errors = []

    def work(sizes):
        try:
            for _ in range(100):
                for size in sizes:
                    assert step(inputs[size]).item() == expected[size]
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(order,)) for order in ((2, 3, 5), (5, 3, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert step.recordings <= 6  # each size recorded once per thread at most


@pytest.mark.parametrize(
    "train",
    [
        lambda compiled: demo.train_perceptron(60, lambda line: None, compiled=compiled),
        lambda compiled: demo.train_and_gate(60, lambda line: None, compiled=compiled),
        lambda compiled: demo.train_two_layer(60, lambda line: None, compiled=compiled),
        lambda compiled: demo.train_l_layer(60, lambda line: None, compiled=compiled),
        lambda compiled: demo.train_two_moons(5, 60, lambda line: None, compiled=compiled),
    ],
    ids=["perceptron", "and_gate", "two_layer", "l_layer", "two_moons"],
)
def test_every_article_network_trains_compiled_to_eagers_losses_bit_for_bit(train):
    tg.manual_seed(0)
    eager = train(False)
    tg.manual_seed(0)
    compiled = train(True)
    assert compiled.losses == eager.losses
    assert compiled.accuracy == eager.accuracy
    assert_same_parameters(eager.model, compiled.model)


def test_anomaly_mode_turned_on_inside_the_function_is_refused():
    def checked(x):
        with tg.detect_anomaly():
            return (x * 2).sum()

    with pytest.raises(tg.CompileError, match="detect_anomaly"):
        tg.compile(checked)(tg.ones(2, requires_grad=True))


def test_a_replaced_layer_or_parameter_object_records_again():
    model = mlp()
    step = tg.compile(lambda x: model(x).sum())
    x = np.ones((2, 4))
    step(x)
    model[2] = nn.Linear(8, 3)  # a new layer object
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    model[0].weight = nn.Parameter(np.full((8, 4), 0.5))  # a new parameter object
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    assert step.recordings == 3
    other = mlp(seed=3)  # building an unrelated model moves the counter: no new recording
    del other
    assert step(x).item() == model(tg.tensor(x)).sum().item()
    assert step.recordings == 3


def test_a_compiled_module_offers_the_modules_methods_as_torch_compile_does():
    model = mlp()
    compiled = tg.compile(model)
    assert [name for name, _ in compiled.named_parameters()] == [
        name for name, _ in model.named_parameters()
    ]
    optimizer = optim.SGD(compiled.parameters(), lr=0.1)
    x = np.ones((2, 4))
    compiled(x).sum().backward()
    optimizer.step()
    compiled.eval()
    assert model.training is False
    assert np.array_equal(compiled(x).data, model(tg.tensor(x)).data)
    assert set(compiled.state_dict()) == set(model.state_dict())
    with pytest.raises(AttributeError):
        compiled.no_such_thing  # noqa: B018


def test_a_function_may_return_the_loss_and_the_logits_as_pytorch_code_often_does():
    eager_model, compiled_model = mlp(), mlp()

    def loss_and_logits(model, x, y):
        logits = model(x)
        return F.cross_entropy(logits, y), logits

    step = tg.compile(lambda x, y: loss_and_logits(compiled_model, x, y))
    for x, y in batches(3):
        loss, logits = step(x, y)
        expected_loss, expected_logits = loss_and_logits(eager_model, tg.tensor(x), y)
        assert np.array_equal(logits.data, expected_logits.data)
        assert logits.requires_grad and loss.requires_grad
        loss.backward()
        expected_loss.backward()
        for p, q in zip(compiled_model.parameters(), eager_model.parameters()):
            assert np.array_equal(p.grad.data, q.grad.data)
            p.grad, q.grad = None, None
        # Both results into one backward: each result's VJPs run separately and the engine
        # adds them, where eager adds the two gradients of the logits first.
        loss, logits = step(x, y)
        (loss + logits.sum()).backward()
        expected_loss, expected_logits = loss_and_logits(eager_model, tg.tensor(x), y)
        (expected_loss + expected_logits.sum()).backward()
        for p, q in zip(compiled_model.parameters(), eager_model.parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-12, atol=1e-15)
            p.grad, q.grad = None, None
    assert step.recordings == 1


def test_several_results_keep_their_container_and_their_need_of_grad():
    w = tg.tensor([1.0, -2.0], requires_grad=True)
    step = tg.compile(lambda x: [(x * w).sum(), (x * w) > 0])
    for _ in range(2):
        total, positive = step(tg.tensor([3.0, 1.0]))
        assert isinstance(step(tg.tensor([3.0, 1.0])), list)
        assert total.item() == 1.0 and positive.tolist() == [True, False]
        assert total.requires_grad and not positive.requires_grad
        total.backward()
    assert w.grad.tolist() == [6.0, 2.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        positive.backward()


def test_check_and_memory_with_several_results():
    model = mlp()

    def loss_and_logits(x, y):
        logits = model(x)
        return F.cross_entropy(logits, y), logits

    checked = tg.compile(loss_and_logits, check=True)
    x, y = batches(1)[0]
    for _ in range(3):
        _, logits = checked(x, y)
        assert np.array_equal(logits.data, model(tg.tensor(x)).data)
    assert memory_growth(tg.compile(loss_and_logits), model, 1000) < 20_000


SCALE = 2.0  # read by Scaled below, changed by the test


class Scaled(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * SCALE

    @staticmethod
    def backward(ctx, grad):
        return grad * SCALE


def test_a_users_op_is_called_as_it_is_so_the_globals_it_reads_stay_live():
    global SCALE
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: Scaled.apply(x * w).sum())
    assert step(tg.ones(2)).item() == 6.0
    assert "t1 = F1(c, t0)" in step.plan(source=True)  # called, not inlined
    try:
        SCALE = 3.0
        out = step(tg.ones(2))
        assert out.item() == 9.0
        out.backward()
        assert w.grad.tolist() == [3.0, 3.0]
    finally:
        SCALE = 2.0


def test_a_replay_reads_the_array_a_closed_over_target_tensor_holds_now():
    prediction = tg.tensor([1.0, 2.0], requires_grad=True)
    target, labels = tg.tensor([0.0, 0.0]), tg.tensor(np.array([0, 1]))
    scores = tg.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    mse = tg.compile(lambda p: F.mse_loss(p, target))
    ce = tg.compile(lambda s: F.cross_entropy(s, labels))
    nll = tg.compile(lambda s: F.nll_loss(s.log_softmax(-1), labels))
    for _ in range(2):
        mse(prediction), ce(scores), nll(scores)
    for value in (3.0, 4.0):
        target.data = np.array([value, value])  # a new array behind the same Tensor
        labels.data = np.array([int(value) % 2, 0])
        assert mse(prediction).item() == F.mse_loss(prediction, target).item()
        assert ce(scores).item() == F.cross_entropy(scores, labels).item()
        assert nll(scores).item() == F.nll_loss(scores.log_softmax(-1), labels).item()


def test_a_replay_checks_the_range_of_probabilities_as_eager_does():
    step = tg.compile(lambda p, t: F.binary_cross_entropy(p, t))
    step(tg.tensor([0.2, 0.7], requires_grad=True), tg.tensor([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=r"probs must lie in \[0, 1\] \(got values in \[0.2, 1.5\]\)"
    ):
        step(tg.tensor([0.2, 1.5], requires_grad=True), tg.tensor([0.0, 1.0]))


def test_an_error_while_recording_leaves_nothing_behind():
    from tinygrad_ann.autograd.capture import RECORDING_THREADS
    from tinygrad_ann.autograd.function import Function

    plain_apply = Function.__dict__["apply"]

    def failing(x):
        (x * 2).sum()
        raise KeyError("the user's own error")

    step = tg.compile(failing)
    with pytest.raises(KeyError, match="the user's own error"):
        step(tg.ones(2))
    assert Function.__dict__["apply"] is plain_apply and not RECORDING_THREADS
    assert step.recordings == 0 and (tg.ones(2) * 3).sum().item() == 6.0


@pytest.mark.parametrize("size", [4, 2000])  # copied when saved / locked when saved
def test_an_array_written_between_forward_and_backward_cannot_change_the_gradient(size):
    rng = np.random.default_rng(size)
    w = tg.tensor(rng.normal(size=size), requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    for _ in range(3):
        w.grad = None
        x = tg.tensor(rng.normal(size=size))
        loss = step(x)
        expected = x.data.copy()
        if size <= tg.autograd.SavedArrays.copy_limit:
            x.data[...] = 0.0  # the plan kept its own copy of x
            loss.backward()
            assert np.array_equal(w.grad.data, expected)
        else:
            with pytest.raises(ValueError, match="read-only"):
                x.data[...] = 0.0  # locked until backward
            loss.backward()
            assert np.array_equal(w.grad.data, expected)
            x.data[...] = 0.0  # unlocked again
    assert step.recordings == 1


def test_a_new_copy_limit_records_again_under_it():
    w = tg.tensor(np.ones(4), requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    x = tg.tensor(np.arange(4.0))
    step(x).backward()
    limit = tg.autograd.SavedArrays.copy_limit
    try:
        tg.autograd.SavedArrays.copy_limit = 0  # lock every saved array
        loss = step(x)
        with pytest.raises(ValueError, match="read-only"):
            x.data[0] = 5.0
        loss.backward()
        assert step.recordings == 2
    finally:
        tg.autograd.SavedArrays.copy_limit = limit
    step(x).backward()
    assert step.recordings == 2  # the first plan fits again


def test_a_replay_guards_the_outside_arrays_an_op_saved_and_not_its_own_intermediates():
    w = tg.tensor(np.arange(1.0, 4.0), requires_grad=True)
    step = tg.compile(lambda x: (x.tanh() * w).sum())  # mul saves tanh's result and w
    x = tg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    limit = tg.autograd.SavedArrays.copy_limit
    try:
        tg.autograd.SavedArrays.copy_limit = 0  # every guarded array is locked: countable
        for call in range(4):
            loss = step(x)
            locked = set(tg.autograd.SavedArrays.counts)
            assert id(w.data) in locked  # the parameter: someone may write it before backward
            # The first call runs eagerly, which locks tanh's result too; a replay leaves
            # it as it is: it is the plan's own array, which nothing outside can reach.
            assert len(locked) == (2 if call == 0 else 1)
            w.grad = x.grad = None
            loss.backward()
            assert np.array_equal(w.grad.data, np.tanh(x.data))
            assert not tg.autograd.SavedArrays.counts
    finally:
        tg.autograd.SavedArrays.copy_limit = limit


def test_the_simplified_backward_in_the_docs_is_the_one_a_plan_runs():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "compile.md").read_text()
    section = page.split("## The straight-line code, simplified")[1]
    shown = section.split("```text\n")[1].split("```")[0]
    unit = nn.Linear(3, 1, dtype=np.float64)
    perceptron = tg.compile(lambda x, y: 0.5 * F.mse_loss(unit(x).sigmoid(), y, reduction="sum"))
    rows = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
    perceptron(rows, np.array([[1.0], [0.0]])).backward()
    source = perceptron.plan(source=True)
    assert source[source.index("def backward") :] == shown
