"""pytest plugin for `make mutation`: a small, derandomized Hypothesis profile, and
error messages that name the caller's line past mutmut's frames.

mutmut reruns the tests that reach a mutated function once per mutant, thousands of
times in all; 10 examples per property instead of 25 keep the whole run within its
time budget. Derandomized, every mutant meets the same examples, and no example
database carries failures from one mutant over to the next.

``MUTATION_MAX_EXAMPLES`` (an environment variable) sets another number of examples,
to compare the verdicts of two profiles.

The engine names the line of the user's code that called an op (anomaly mode,
gradcheck's localization) by walking the stack past the package's own frames.
mutmut calls every function through a trampoline of its own, so that walk would
stop at mutmut's file; here it walks past those frames too, and the tests that
state the caller's line keep stating it under every mutant. (The mutants of
``_caller_location`` itself therefore never run: tests/MUTATION.md lists them.)
"""

import os
import sys

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutation",
    max_examples=int(os.environ.get("MUTATION_MAX_EXAMPLES", "10")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_configure(config):
    # After tests/conftest.py, which loads its own profile when it is imported.
    settings.load_profile("mutation")
    _walk_past_trampolines()


def _walk_past_trampolines():
    from tinygrad_ann import autograd

    package_dir = autograd._PACKAGE_DIR
    mutmut_dir = os.sep + "mutmut" + os.sep

    def caller_location():
        frame = sys._getframe(1)
        while frame is not None and (
            frame.f_code.co_filename.startswith(package_dir)
            or mutmut_dir in frame.f_code.co_filename
        ):
            frame = frame.f_back
        if frame is None:
            return "<unknown>"
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"

    autograd._caller_location = caller_location
