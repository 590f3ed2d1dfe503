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
state the caller's line keep stating it under every mutant.
"""

import os

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
    # _caller_location skips frames whose file starts with _PACKAGE_DIR; str.startswith
    # takes a tuple, so mutmut's directory joins the package's, and _caller_location
    # itself (and each of its mutants) still runs.
    import mutmut

    from tinygrad_ann.autograd import anomaly

    if isinstance(anomaly._PACKAGE_DIR, str):  # once: mutmut runs pytest several times
        anomaly._PACKAGE_DIR = (anomaly._PACKAGE_DIR, os.path.dirname(mutmut.__file__) + os.sep)
