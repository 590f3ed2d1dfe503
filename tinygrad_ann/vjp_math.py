"""Math for backward formulas that work on arrays and on Tensors alike.

A ``backward`` written with operators (``+ - * / ** @``), the methods arrays
and Tensors share (``sum``, ``reshape``, ``T``, indexing) and these functions
runs as plain NumPy in a first-order backward, and is recorded, so it can be
differentiated again, when the engine passes Tensors (``create_graph=True``).
Each function calls NumPy when no argument is a Tensor and the recorded op
otherwise. Mark such a Function with ``differentiable_backward = True``.

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> from tinygrad_ann import vjp_math
>>> vjp_math.exp(np.zeros(2))
array([1., 1.])
>>> vjp_math.exp(tg.zeros(2, requires_grad=True))
Tensor([1., 1.], grad_fn=<exp>)
"""

from .ops import (
    broadcast_to,
    exp,
    log,
    maximum,
    scatter_add,
    sigmoid,
    sqrt,
    tanh,
    transpose,
    where,
)

__all__ = [
    "broadcast_to",
    "exp",
    "log",
    "maximum",
    "scatter_add",
    "sigmoid",
    "sqrt",
    "tanh",
    "transpose",
    "where",
]
