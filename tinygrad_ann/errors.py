"""Exception types raised by tinygrad_ann.

Each subclasses the built-in exception that NumPy or Python would raise for the
same mistake, so ``except ValueError`` keeps working.
"""


class ShapeError(ValueError):
    """Operands whose shapes do not fit the operation (the message names both)."""


class DTypeError(TypeError, ValueError):
    """An array of the wrong dtype, e.g. ``requires_grad`` on integers."""


class LabelError(ValueError, IndexError):
    """Class labels out of range for the number of classes."""


class GradcheckError(AssertionError):
    """Autograd and finite differences disagree (raised by ``gradcheck``)."""


class AnomalyError(RuntimeError):
    """NaN or inf produced from finite values inside ``tg.detect_anomaly()``."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back (the message names the path)."""


class StateDictError(KeyError, ValueError, RuntimeError):
    """A state dict that does not fit the model or optimizer, which is left unchanged."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CompileError(RuntimeError):
    """A function that ``tg.compile`` cannot record faithfully (the message says why and where)."""
