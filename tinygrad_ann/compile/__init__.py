"""``tg.compile``: record a function of Tensors once, then replay it as straight-line code.

- ``recorder``: runs the function once, eagerly, and names every value each op meets.
- ``plan``: turns the recording into two generated Python functions, forward and backward.
- ``compiled``: :class:`CompiledFunction`, its cache of plans and the signature that picks
  one, and the graph node through which a replay's result joins eager autograd.
- ``checking``: ``check=True``, which runs eager beside each replay and names the first
  op whose value differs.
"""

from ..errors import CompileError
from .compiled import CACHE_SIZE, CompiledFunction, compile

__all__ = ["CACHE_SIZE", "CompileError", "CompiledFunction", "compile"]
