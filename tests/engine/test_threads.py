"""The engine's switches are per thread: grad mode, anomaly mode, module scope, observers.

Threads are made to interleave as often as the interpreter allows (a switch
interval of a microsecond) and are lined up with barriers and events rather
than sleeps, so each test states an order of events instead of hoping for one.
"""

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import autograd, nn, optim


@contextmanager
def frequent_thread_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def run_in_threads(*targets: Callable[[], object]) -> list[object]:
    """Run each target in its own thread at once; re-raise the first error."""
    results: list[object] = [None] * len(targets)
    errors: list[BaseException] = []

    def runner(index: int, target: Callable[[], object]) -> None:
        try:
            results[index] = target()
        except BaseException as error:  # handed to the main thread
            errors.append(error)

    threads = [
        threading.Thread(target=runner, args=(index, target))
        for index, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


X, LABELS = tg.data.two_moons(64, noise=0.2, seed=0)
INPUTS = tg.tensor(X)


def fresh_model(seed: int) -> nn.Module:
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))


def train(model: nn.Module, steps: int, evaluate_each_step: bool) -> list[np.ndarray]:
    """SGD on two moons; returns the gradients of the last step."""
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        if evaluate_each_step:
            with tg.no_grad():
                assert not model(INPUTS).requires_grad
        loss = F.cross_entropy(model(INPUTS), LABELS)
        opt.zero_grad()
        loss.backward()
        for name, parameter in model.named_parameters():
            assert parameter.grad is not None, f"{name} got no gradient"
        opt.step()
    return [parameter.grad.data.copy() for parameter in model.parameters()]


def test_two_models_train_in_two_threads_as_they_do_alone():
    """One thread trains; the other trains too, evaluating under no_grad before each step.

    Each of 100 runs must give every parameter a gradient at every step and end
    with the bits a single-threaded run gives.
    """
    alone = [fresh_model(1), fresh_model(2)]
    expected_grads = [train(alone[0], 20, False), train(alone[1], 20, True)]
    with frequent_thread_switches():
        for run in range(100):
            models = [fresh_model(1), fresh_model(2)]
            first, second = models
            grads = run_in_threads(
                lambda first=first: train(first, 20, False),
                lambda second=second: train(second, 20, True),
            )
            for model, reference, got, wanted in zip(models, alone, grads, expected_grads):
                for a, b in zip(model.parameters(), reference.parameters()):
                    assert np.array_equal(a.data, b.data), f"run {run}: parameters differ"
                for a, b in zip(got, wanted):
                    assert np.array_equal(a, b), f"run {run}: gradients differ"
    assert tg.is_grad_enabled()


def test_a_thread_starts_with_grad_enabled_whatever_its_starter_does():
    seen = []
    with tg.no_grad():
        run_in_threads(lambda: seen.append((tg.is_grad_enabled(), tg.is_anomaly_enabled())))
        assert not tg.is_grad_enabled()
    with tg.detect_anomaly():
        run_in_threads(lambda: seen.append((tg.is_grad_enabled(), tg.is_anomaly_enabled())))
    assert seen == [(True, False), (True, False)]


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    """A enters, B enters, A leaves, B leaves: each thread's mode is its own throughout."""
    a_entered, b_entered, a_left = threading.Event(), threading.Event(), threading.Event()
    observed = {}

    def first() -> None:
        with tg.no_grad():
            a_entered.set()
            b_entered.wait()
        observed["A after its block"] = tg.is_grad_enabled()
        a_left.set()

    def second() -> None:
        a_entered.wait()
        with tg.no_grad():
            b_entered.set()
            a_left.wait()
            observed["B inside, after A left"] = tg.is_grad_enabled()
        observed["B after its block"] = tg.is_grad_enabled()

    for _ in range(50):
        for event in (a_entered, b_entered, a_left):
            event.clear()
        run_in_threads(first, second)
        assert observed == {
            "A after its block": True,
            "B inside, after A left": False,
            "B after its block": True,
        }
        assert tg.is_grad_enabled()


def test_one_no_grad_object_entered_by_two_threads_restores_each_threads_own_mode():
    shared = tg.no_grad()
    inside = threading.Barrier(2)
    observed = []

    def enter(enabled_before: bool) -> None:
        with tg.enable_grad() if enabled_before else tg.no_grad():
            with shared:
                inside.wait()
                observed.append(tg.is_grad_enabled())
                inside.wait()
            observed.append((enabled_before, tg.is_grad_enabled()))

    run_in_threads(lambda: enter(True), lambda: enter(False))
    assert observed[:2] == [False, False]
    assert sorted(observed[2:]) == [(False, False), (True, True)]


def test_the_no_grad_decorator_applies_to_the_calling_thread_only():
    @tg.no_grad()
    def evaluate(release: threading.Event, done: threading.Event) -> bool:
        release.set()
        done.wait()
        return tg.is_grad_enabled()

    release, done = threading.Event(), threading.Event()

    def other() -> bool:
        release.wait()
        enabled = tg.is_grad_enabled()
        weight = tg.ones(2, requires_grad=True)
        recorded = (weight * 2).requires_grad
        done.set()
        return enabled and recorded

    in_decorated, in_other = run_in_threads(lambda: evaluate(release, done), other)
    assert in_decorated is False
    assert in_other is True


def test_anomaly_mode_in_one_thread_does_not_check_another():
    started, checked = threading.Event(), threading.Event()

    def watched() -> str:
        with tg.detect_anomaly():
            started.set()
            checked.wait()
            try:
                tg.tensor([0.0], requires_grad=True).log()
            except tg.AnomalyError:
                return "raised"
        return "passed"

    def unwatched() -> str:
        started.wait()
        try:
            with np.errstate(divide="ignore"):
                result = tg.tensor([0.0], requires_grad=True).log()
            return f"computed {result.item()}"
        finally:
            checked.set()

    assert run_in_threads(watched, unwatched) == ["raised", "computed -inf"]


def test_module_scopes_of_two_threads_do_not_mix():
    """Each recorded op keeps the modules of its own thread's forward, for the drawings."""
    barrier = threading.Barrier(2)

    class Waiting(nn.Module):
        def forward(self, x: tg.Tensor) -> tg.Tensor:
            barrier.wait()
            result = x * 2
            barrier.wait()
            return result

    def scope_of_one_op(model: nn.Module) -> tuple[object, ...]:
        output = model(tg.ones(3, requires_grad=True))
        assert output._ctx is not None
        return output._ctx.scope

    first, second = Waiting(), Waiting()
    with frequent_thread_switches():
        scopes = run_in_threads(lambda: scope_of_one_op(first), lambda: scope_of_one_op(second))
    assert scopes == [(first,), (second,)]
    assert autograd.switches().module_scope == ()


def test_backward_observers_see_their_own_threads_ops_only():
    barrier = threading.Barrier(2)

    def observe(op_count: int) -> list[str]:
        seen: list[str] = []
        x = tg.ones(3, requires_grad=True)
        y = x
        for _ in range(op_count):
            y = y * 2
        with autograd.observe_backward(lambda ctx, *rest: seen.append(ctx.op_name())):
            barrier.wait()
            y.sum().backward()
            barrier.wait()
        return seen

    with frequent_thread_switches():
        a, b = run_in_threads(lambda: observe(3), lambda: observe(40))
    assert len(a) == 4 and len(b) == 41  # the sum and the products of each thread


def test_a_backward_in_one_thread_leaves_grad_mode_of_another_alone():
    """backward() turns grad mode off while it runs: in its own thread only."""
    in_backward, checked = threading.Event(), threading.Event()
    observed = []

    def slow_hook(grad: tg.Tensor) -> None:
        in_backward.set()
        checked.wait()

    def backward() -> None:
        x = tg.ones(3, requires_grad=True)
        y = x * 2
        y.register_hook(slow_hook)
        y.sum().backward()

    def watcher() -> None:
        in_backward.wait()
        observed.append(tg.is_grad_enabled())
        checked.set()

    run_in_threads(backward, watcher)
    assert observed == [True]


def test_a_shared_weight_saved_by_graphs_in_two_threads_is_unlocked_when_both_are_done():
    """The saved-array guard counts locks from both threads exactly (a large array is locked)."""
    weight = tg.tensor(np.ones((64, 64)), requires_grad=True)

    def build_and_drop(runs: int) -> None:
        for _ in range(runs):
            graphs = [(weight * weight).sum() for _ in range(3)]
            assert autograd.SavedArrays.is_locked(weight.data)
            graphs[0].backward()
            del graphs

    with frequent_thread_switches():
        run_in_threads(lambda: build_and_drop(300), lambda: build_and_drop(300))
    assert not autograd.SavedArrays.is_locked(weight.data)
    assert weight.data.flags.writeable
    weight.data[0, 0] = 5.0  # writable again, as before any graph saved it


def test_a_thread_sharing_its_starters_context_starts_from_the_defaults():
    """A thread run in a copy of another's context (asyncio.to_thread does this) has its own."""
    import contextvars

    with tg.no_grad():
        context = contextvars.copy_context()
        seen = []

        def in_copied_context() -> None:
            seen.append(tg.is_grad_enabled())
            with tg.no_grad():
                seen.append(tg.is_grad_enabled())
            seen.append(tg.is_grad_enabled())

        run_in_threads(lambda: context.run(in_copied_context))
        assert not tg.is_grad_enabled()
    assert seen == [True, False, True]
    assert tg.is_grad_enabled()


@pytest.mark.parametrize("switch", ["no_grad", "detect_anomaly"])
def test_each_switch_is_restored_after_an_error_in_its_block(switch):
    manager = {"no_grad": tg.no_grad, "detect_anomaly": tg.detect_anomaly}[switch]
    with pytest.raises(ZeroDivisionError):
        with manager():
            1 / 0  # noqa: B018 - the error is the point
    assert tg.is_grad_enabled() and not tg.is_anomaly_enabled()


def test_every_switch_of_a_new_thread_starts_at_its_default():
    seen = []

    def read_switches():
        state = autograd.switches()
        seen.append(
            (
                state.grad_enabled,
                state.anomaly,
                state.record_origin,
                state.module_scope,
                state.recording_backward_depth,
                state.backward_observers,
            )
        )

    with tg.detect_anomaly(), autograd.observe_backward(lambda *_: None):
        run_in_threads(read_switches)
    assert seen == [(True, False, False, (), 0, ())]
    assert [type(value) for value in seen[0]] == [bool, bool, bool, tuple, int, tuple]
