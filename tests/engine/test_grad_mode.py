"""Grad mode: no_grad and enable_grad as blocks and as decorators, and how the mode is reported."""

import tinygrad_ann as tg


def test_no_grad_as_context_and_decorator_and_enable_grad_inside():
    w = tg.Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        assert not (w * 2).requires_grad
        with tg.enable_grad():
            assert (w * 2).requires_grad
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def predict(t):
        return t * 2

    assert not predict(w).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_reported_as_a_bool():
    assert tg.is_grad_enabled() is True
    with tg.no_grad():
        assert tg.is_grad_enabled() is False
        with tg.enable_grad():
            assert tg.is_grad_enabled() is True
        assert tg.is_grad_enabled() is False
    assert tg.is_grad_enabled() is True
