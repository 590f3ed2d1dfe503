"""The autograd engine, one concern per module (in the order they build on each other):

- ``grad_mode``: the switches of each thread (:func:`switches`); :class:`no_grad`
  and :class:`enable_grad`, which turn the recording of ops off and on.
- ``anomaly``: :class:`detect_anomaly`, which names the op that first turned finite
  numbers into NaN or inf, in forward or in backward.
- ``saved``: the guard on arrays saved for backward (:class:`SavedArrays`): small
  ones are copied, large ones read-only while a graph needs them.
- ``function``: :class:`Function`, one differentiable op (``forward`` and its VJP
  ``backward``), and ``Function.apply``, which runs it and records it.
- ``hooks``: gradient hooks of tensors and observers of a backward pass
  (:func:`observe_backward`), each undone by a :class:`RemovableHandle`.
- ``engine``: the backward pass (:func:`run_backward`, :func:`grad`), which replays
  the recorded VJPs in reverse, sums broadcast gradients back (:func:`unbroadcast`)
  and accumulates ``.grad``.
- ``graph``: :func:`recorded_results`, the one walk of a recorded graph.
- ``forward_mode``: :func:`jvp` (J·v, by transposing the recorded VJP) and :func:`vjp`.
- ``derivatives``: whole Jacobians (by rows or by columns), Hessians and
  Hessian-vector products.
- ``numerical``: central differences (:func:`~.numerical.numerical_jvp`) and the
  analytic and numeric Jacobians gradcheck compares, and where they disagree.
- ``localize``: which op of a graph is at fault when they disagree, and why.
- ``gradcheck``: :func:`~.gradcheck.gradcheck` and :func:`~.gradcheck.gradgradcheck`,
  exported as ``tinygrad_ann.gradcheck`` and ``tinygrad_ann.gradgradcheck``.

The last three are left out of this package's names, so that its ``gradcheck`` is
the module, as ``torch.autograd.gradcheck`` is.
"""

from .anomaly import detect_anomaly, is_anomaly_enabled
from .derivatives import hessian, hvp, jacobian
from .engine import column_sums, grad, ones_vector, run_backward, seed_gradient, unbroadcast
from .forward_mode import jvp, vjp
from .function import Function, may_have_been_used
from .grad_mode import EngineSwitches, enable_grad, is_grad_enabled, no_grad, switches
from .graph import recorded_results
from .hooks import RemovableHandle, TensorHooks, new_hook_key, observe_backward
from .saved import SavedArrays

__all__ = [
    "EngineSwitches",
    "Function",
    "RemovableHandle",
    "SavedArrays",
    "TensorHooks",
    "column_sums",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "hessian",
    "hvp",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "may_have_been_used",
    "new_hook_key",
    "no_grad",
    "observe_backward",
    "ones_vector",
    "recorded_results",
    "run_backward",
    "seed_gradient",
    "switches",
    "unbroadcast",
    "vjp",
]
