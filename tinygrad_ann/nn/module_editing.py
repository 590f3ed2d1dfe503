"""What ``Module`` offers for changing a whole tree at once: ``apply`` and ``requires_grad_``.

A base class of :class:`~tinygrad_ann.nn.Module`, kept apart so that the
module's own file stays about registration and state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .module import Module, Parameter

__all__ = ["ModuleEditing"]

Edited = TypeVar("Edited", bound="ModuleEditing")


class ModuleEditing:
    """``apply`` and ``requires_grad_``, as ``torch.nn.Module``'s."""

    if TYPE_CHECKING:  # Module's own, which these methods walk

        def children(self) -> Iterator[Module]: ...
        def parameters(self) -> Iterator[Parameter]: ...

    def apply(self: Edited, fn: Callable[[Any], object]) -> Edited:
        """Call ``fn`` on every sub-module (children first, deepest first), then on self.

        Returns self, as PyTorch's ``apply``; the usual use is initialisation.

        >>> from tinygrad_ann import nn
        >>> def init_weights(module):
        ...     if isinstance(module, nn.Linear):
        ...         nn.init.zeros_(module.bias)
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh()).apply(init_weights)
        >>> model[0].bias.numpy().tolist()
        [0.0, 0.0, 0.0]
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self: Edited, requires_grad: bool = True) -> Edited:
        """Set ``requires_grad`` on every parameter (freeze with False); returns self.

        >>> from tinygrad_ann import nn
        >>> layer = nn.Linear(2, 3).requires_grad_(False)
        >>> [p.requires_grad for p in layer.parameters()]
        [False, False]
        """
        if not isinstance(requires_grad, bool):
            raise TypeError(
                f"{type(self).__name__}.requires_grad_: expected True or False, got "
                f"{requires_grad!r}"
            )
        for parameter in self.parameters():
            parameter.requires_grad = requires_grad
        return self
