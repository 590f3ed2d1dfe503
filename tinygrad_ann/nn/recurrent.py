"""Recurrent layers with PyTorch's names, shapes, parameter layout and initialisation.

``RNNCell``, ``LSTMCell`` and ``GRUCell`` take one time step; ``RNN``, ``LSTM`` and
``GRU`` run a whole sequence through ``num_layers`` layers, in one or both directions.
Every step is built from recorded ops (``linear``, ``sigmoid``, ``tanh``, slicing,
``stack``), so gradients of any order flow through time. With ``H = hidden_size``:

- RNN: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ``relu``)
- LSTM, gates in PyTorch's order i, f, g, o: ``c' = f c + i g``, ``h' = o tanh(c')``
- GRU, gates r, z, n: ``n = tanh(W_in x + b_in + r (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``

Every weight and bias is drawn from U(-1/√H, 1/√H), as in PyTorch.

>>> import tinygrad_ann as tg
>>> from tinygrad_ann import nn
>>> lstm = nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
>>> output, (h_n, c_n) = lstm(tg.ones(5, 7, 3))
>>> output.shape, h_n.shape, c_n.shape
((5, 7, 4), (2, 5, 4), (2, 5, 4))
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import functional as F
from ..errors import ShapeError
from ..norm_ops import check_dropout_probability, dropout
from ..routines import concatenate, stack
from ..tensor import Tensor, ensure_tensor, get_default_dtype
from . import init
from .module import Module, Parameter

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]

# ``state`` is h (a Tensor) for RNN and GRU, (h, c) for LSTM.
Step = Callable[[Tensor, Any, Tensor, "Tensor | None"], Any]


# ------------------------------------------------------------------ one time step
# Each step takes the input's projection ``gi = W_ih x + b_ih`` computed already, so that
# a layer projects the whole sequence with one matmul before its loop over time.
def _recurrent_projection(h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    return F.linear(h, weight_hh, bias_hh)


def rnn_tanh_step(gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    return (gi + _recurrent_projection(h, weight_hh, bias_hh)).tanh()


def rnn_relu_step(gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    return (gi + _recurrent_projection(h, weight_hh, bias_hh)).relu()


def lstm_step(
    gi: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor, bias_hh: Tensor | None
) -> tuple[Tensor, Tensor]:
    h, c = state
    gates = gi + _recurrent_projection(h, weight_hh, bias_hh)
    size = h.shape[-1]
    i = gates[..., :size].sigmoid()
    f = gates[..., size : 2 * size].sigmoid()
    g = gates[..., 2 * size : 3 * size].tanh()
    o = gates[..., 3 * size :].sigmoid()
    c_next = f * c + i * g
    return o * c_next.tanh(), c_next


def gru_step(gi: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    gh = _recurrent_projection(h, weight_hh, bias_hh)
    size = h.shape[-1]
    r = (gi[..., :size] + gh[..., :size]).sigmoid()
    z = (gi[..., size : 2 * size] + gh[..., size : 2 * size]).sigmoid()
    n = (gi[..., 2 * size :] + r * gh[..., 2 * size :]).tanh()
    return (1.0 - z) * n + z * h


_STEPS: dict[str, tuple[Step, int]] = {
    "RNN_TANH": (rnn_tanh_step, 1),
    "RNN_RELU": (rnn_relu_step, 1),
    "LSTM": (lstm_step, 4),
    "GRU": (gru_step, 3),
}


def _check_size(where: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return int(value)


def _reset_uniform(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for parameter in module.parameters():
        init.uniform_(parameter, -bound, bound)


def _zeros(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return Tensor(np.zeros(shape, dtype=like.dtype))


def _check_state(
    where: str, name: str, state: Any, expected: tuple[int, ...], hint: str = ""
) -> Tensor:
    state = ensure_tensor(state)
    if state.shape != expected:
        raise ShapeError(f"{where}: expected {name} of shape {expected}, got {state.shape}{hint}")
    return state


# ------------------------------------------------------------------ cells
class _CellBase(Module):
    """The parameters of one step: ``weight_ih`` (G·H, input_size), ``weight_hh`` (G·H, H)
    and the biases ``bias_ih``, ``bias_hh`` (G·H), for G gates."""

    mode: str
    weight_ih: Parameter
    weight_hh: Parameter
    bias_ih: Parameter | None
    bias_hh: Parameter | None

    def __init__(self, input_size: int, hidden_size: int, bias: bool, dtype: Any) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.bias = bias
        gates = _STEPS[self.mode][1] * self.hidden_size
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype=dtype))
        for bias_name in ("bias_ih", "bias_hh"):
            self.register_parameter(
                bias_name, Parameter(np.empty(gates, dtype=dtype)) if bias else None
            )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), as PyTorch does."""
        _reset_uniform(self, self.hidden_size)

    def _prepare(self, input: Any, hx: Any) -> tuple[Tensor, Any, bool]:  # noqa: A002
        """The input as (batch, input_size) and the state as (batch, H) ones; unbatched?"""
        where = f"{type(self).__name__}({self.extra_repr()})"
        x = ensure_tensor(input)
        if x.ndim not in (1, 2):
            raise ShapeError(
                f"{where}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{where}: input of shape {x.shape} has {x.shape[-1]} features in its last "
                f"axis, but the cell has input_size={self.input_size}"
            )
        unbatched = x.ndim == 1
        if unbatched:
            x = x.reshape(1, -1)
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        parts = hx if isinstance(hx, tuple) else (hx,)
        names = ("hx[0]", "hx[1]") if isinstance(hx, tuple) else ("hx",)
        states = []
        for name, part in zip(names, parts):
            state = (
                _zeros(expected, x) if part is None else _check_state(where, name, part, expected)
            )
            states.append(state.reshape(1, -1) if unbatched else state)
        return x, (tuple(states) if isinstance(hx, tuple) else states[0]), unbatched

    def _run(self, input: Any, hx: Any) -> Any:  # noqa: A002
        x, state, unbatched = self._prepare(input, hx)
        step = _STEPS[self.mode][0]
        result = step(
            F.linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh, self.bias_hh
        )
        if unbatched:
            return (
                tuple(r.reshape(-1) for r in result)
                if isinstance(result, tuple)
                else result.reshape(-1)
            )
        return result

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"


class RNNCell(_CellBase):
    """One Elman step ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (``nonlinearity="relu"``: relu).

    ``forward(input, hx=None)``: input (batch, input_size) or (input_size,), hx of the
    matching (batch, hidden_size) or (hidden_size,), zeros when omitted; returns h'.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.RNNCell(3, 5)(tg.ones(2, 3)).shape
    (2, 5)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._run(input, hx)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(input, hx=None)`` with ``hx = (h, c)`` returns ``(h', c')``.

    Gates in PyTorch's order i, f, g, o along the rows of ``weight_ih`` and ``weight_hh``.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> h, c = nn.LSTMCell(3, 5)(tg.ones(2, 3))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """

    mode = "LSTM"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise TypeError("LSTMCell: hx must be a pair (h, c) or None")
        return self._run(input, tuple(hx))


class GRUCell(_CellBase):
    """One GRU step, gates r, z, n as in PyTorch; ``forward(input, hx=None)`` returns h'.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> nn.GRUCell(3, 5)(tg.ones(3)).shape
    (5,)
    """

    mode = "GRU"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
        return self._run(input, hx)


# ------------------------------------------------------------------ whole sequences
class _RNNBase(Module):
    """``num_layers`` recurrent layers over a sequence, each in one or two directions.

    Parameters are named as in PyTorch, layer by layer and direction by direction:
    ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, with the
    suffix ``_reverse`` for the backward direction.
    """

    mode: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _check_size(name, "input_size", input_size)
        self.hidden_size = _check_size(name, "hidden_size", hidden_size)
        self.num_layers = _check_size(name, "num_layers", num_layers)
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = check_dropout_probability(name, dropout)
        self.bidirectional = bidirectional
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} acts between layers, so with num_layers=1 it has "
                "no effect",
                UserWarning,
                stacklevel=3,
            )
        directions = 2 if bidirectional else 1
        gates = _STEPS[self.mode][1] * self.hidden_size
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                setattr(
                    self,
                    "weight_ih" + suffix,
                    Parameter(np.empty((gates, layer_input), dtype=dtype)),
                )
                setattr(
                    self,
                    "weight_hh" + suffix,
                    Parameter(np.empty((gates, self.hidden_size), dtype=dtype)),
                )
                for kind in ("bias_ih", "bias_hh"):
                    self.register_parameter(
                        kind + suffix, Parameter(np.empty(gates, dtype=dtype)) if bias else None
                    )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), as PyTorch does."""
        _reset_uniform(self, self.hidden_size)

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _layer_parameters(self, layer: int, direction: int) -> tuple[Any, ...]:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return tuple(
            getattr(self, kind + suffix)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def _prepare(self, input: Any) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as (time, batch, input_size), and whether it came unbatched."""
        x = ensure_tensor(input)
        layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"{self._describe()}: expected input of shape {layout}, or (time, input_size) "
                f"unbatched, got {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            hint = ""
            if self.input_size in x.shape[:-1]:
                hint = (
                    f" (axis {x.shape.index(self.input_size)} has {self.input_size} entries: the "
                    "features go in the last axis, and batch_first=True takes (batch, time, "
                    "input_size))"
                )
            raise ShapeError(
                f"{self._describe()}: input of shape {x.shape} has {x.shape[-1]} features in "
                f"its last axis, but the layer has input_size={self.input_size}; it expects "
                f"{layout}{hint}"
            )
        if x.ndim == 2:
            return x.reshape(x.shape[0], 1, x.shape[1]), True
        return (x.transpose(1, 0, 2) if self.batch_first else x), False

    def _initial(self, name: str, state: Any, x: Tensor, unbatched: bool) -> Tensor:
        layers = self.num_layers * self._directions
        if state is None:
            return _zeros((layers, x.shape[1], self.hidden_size), x)
        expected = (
            (layers, self.hidden_size) if unbatched else (layers, x.shape[1], self.hidden_size)
        )
        hint = ""
        swapped = (layers, x.shape[0], self.hidden_size)
        if not unbatched and np.shape(state) == swapped and swapped != expected:
            hint = (
                f"; {name} fits the input's other leading axis: is batch_first="
                f"{self.batch_first} right for how the input is laid out?"
            )
        state = _check_state(self._describe(), name, state, expected, hint)
        return state.reshape(layers, 1, self.hidden_size) if unbatched else state

    def _run(self, x: Tensor, state: Any) -> tuple[Tensor, list[Any]]:
        """The last layer's output (time, batch, D·H) and each (layer, direction)'s last state."""
        step = _STEPS[self.mode][0]
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self._directions):
                weight_ih, weight_hh, bias_ih, bias_hh = self._layer_parameters(layer, direction)
                index = layer * self._directions + direction
                current = (
                    tuple(s[index] for s in state) if isinstance(state, tuple) else state[index]
                )
                projected = F.linear(x, weight_ih, bias_ih)  # every time step at once
                times = range(x.shape[0] - 1, -1, -1) if direction else range(x.shape[0])
                steps = []
                for t in times:
                    current = step(projected[t], current, weight_hh, bias_hh)
                    steps.append(current[0] if isinstance(current, tuple) else current)
                if direction:
                    steps.reverse()
                outputs.append(stack(steps, axis=0))
                finals.append(current)
            x = outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=-1)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        return x, finals

    def _output(self, x: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            return x.reshape(x.shape[0], x.shape[2])
        return x.transpose(1, 0, 2) if self.batch_first else x

    @staticmethod
    def _final(states: list[Tensor], unbatched: bool) -> Tensor:
        result = stack(states, axis=0)
        return result.reshape(result.shape[0], result.shape[2]) if unbatched else result

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(_RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)`` (or relu), as PyTorch.

    ``forward(input, hx=None)``: input (time, batch, input_size) (``batch_first``: batch
    first) or (time, input_size) unbatched; ``hx`` (num_layers·D, batch, hidden_size),
    zeros when omitted (D = 2 if bidirectional). Returns ``(output, h_n)``: output
    (time, batch, D·hidden_size), the last layer's h at every step (both directions
    side by side), and h_n the last h of every layer and direction.

    >>> import tinygrad_ann as tg
    >>> from tinygrad_ann import nn
    >>> output, h_n = nn.RNN(3, 4, bidirectional=True)(tg.ones(6, 2, 3))
    >>> output.shape, h_n.shape
    ((6, 2, 8), (2, 2, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype
        )

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._prepare(input)
        output, finals = self._run(x, self._initial("hx", hx, x, unbatched))
        return self._output(output, unbatched), self._final(finals, unbatched)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class LSTM(_RNNBase):
    """Long short-term memory over a sequence, as PyTorch's ``nn.LSTM`` (no ``proj_size``).

    ``forward(input, hx=None)`` with ``hx = (h_0, c_0)``, each (num_layers·D, batch,
    hidden_size); returns ``(output, (h_n, c_n))`` with the shapes of :class:`RNN`.
    """

    mode = "LSTM"

    def forward(
        self,
        input: Any,  # noqa: A002 - PyTorch's name
        hx: Any = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, unbatched = self._prepare(input)
        if hx is None:
            hx = (None, None)
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise TypeError(f"{self._describe()}: hx must be a pair (h_0, c_0) or None")
        state = (
            self._initial("h_0", hx[0], x, unbatched),
            self._initial("c_0", hx[1], x, unbatched),
        )
        output, finals = self._run(x, state)
        h_n = self._final([h for h, _ in finals], unbatched)
        c_n = self._final([c for _, c in finals], unbatched)
        return self._output(output, unbatched), (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit over a sequence, as PyTorch's ``nn.GRU`` (gates r, z, n).

    ``forward(input, hx=None)`` returns ``(output, h_n)`` with the shapes of :class:`RNN`.
    """

    mode = "GRU"

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, unbatched = self._prepare(input)
        output, finals = self._run(x, self._initial("hx", hx, x, unbatched))
        return self._output(output, unbatched), self._final(finals, unbatched)
