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


def test_grad_mode_decorators_keep_the_function_and_nest_in_one_object():
    w = tg.ones(2, requires_grad=True)

    @tg.no_grad()
    def depth_first(t, depth):
        """Docstring kept."""
        inner = depth_first(t, depth - 1) if depth else None
        return t * 2, inner, tg.is_grad_enabled()

    @tg.enable_grad()
    def recorded(t):
        return t * 2

    assert depth_first.__name__ == "depth_first" and depth_first.__doc__ == "Docstring kept."
    outer, inner, enabled = depth_first(w, 2)
    assert not outer.requires_grad and not inner[0].requires_grad and not enabled
    assert tg.is_grad_enabled()  # each of the three nested entries restored its own value
    with tg.no_grad():
        assert recorded(w).requires_grad
        assert not tg.is_grad_enabled()
