"""tinygrad_ann: a small, fast, verifiable autograd framework over NumPy.

>>> import numpy as np
>>> import tinygrad_ann as tg
>>> x = tg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
>>> y = (x @ x.T).tanh().sum()
>>> y.backward()
>>> x.grad.shape
(2, 2)
"""

import importlib
from typing import Any

from . import data, functional, nn, optim, vjp_math
from .arrays import get_default_dtype, set_default_dtype
from .autograd import (
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    hessian,
    hvp,
    is_anomaly_enabled,
    is_grad_enabled,
    jacobian,
    jvp,
    no_grad,
    vjp,
)
from .autograd.grad_mode import set_grad_enabled
from .autograd.gradcheck import gradcheck, gradgradcheck
from .checkpoint import load, save
from .compile import CompiledFunction, compile
from .errors import (
    AnomalyError,
    CheckpointError,
    CompileError,
    DTypeError,
    GradcheckError,
    LabelError,
    ShapeError,
)
from .factories import (
    arange,
    eye,
    from_numpy,
    full,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .routines import (
    abs,
    cat,
    clip,
    concatenate,
    cos,
    cumsum,
    exp,
    expm1,
    flatten,
    gather,
    log,
    log1p,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    tril,
    triu,
    where,
)
from .tensor import Tensor

__version__ = "0.1.0"

# Loaded on first use: ``viz`` brings in graphviz and ``articles`` builds its tables,
# which together would double the time ``import tinygrad_ann`` takes; ``onnx`` needs
# the optional onnx package.
_LAZY_MODULES = {"articles": ".teaching.articles", "viz": ".viz", "onnx": ".onnx"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        module = importlib.import_module(_LAZY_MODULES[name], __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tinygrad_ann' has no attribute {name!r}")


__all__ = [
    "AnomalyError",
    "CheckpointError",
    "CompileError",
    "CompiledFunction",
    "DTypeError",
    "Function",
    "GradcheckError",
    "LabelError",
    "ShapeError",
    "Tensor",
    "abs",
    "arange",
    "articles",
    "cat",
    "clip",
    "compile",
    "concatenate",
    "cos",
    "cumsum",
    "data",
    "detect_anomaly",
    "enable_grad",
    "exp",
    "expm1",
    "eye",
    "flatten",
    "from_numpy",
    "full",
    "functional",
    "gather",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "hessian",
    "hvp",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "linspace",
    "load",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "onnx",
    "optim",
    "rand",
    "randn",
    "relu",
    "reshape",
    "save",
    "set_default_dtype",
    "set_grad_enabled",
    "sigmoid",
    "sin",
    "softmax",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "transpose",
    "tril",
    "triu",
    "viz",
    "vjp",
    "vjp_math",
    "where",
    "zeros",
    "zeros_like",
]
