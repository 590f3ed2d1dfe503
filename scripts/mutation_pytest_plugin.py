"""pytest plugin for `make mutation`: a small, derandomized Hypothesis profile.

mutmut reruns the tests that reach a mutated function once per mutant, thousands of
times in all; 10 examples per property instead of 25 keep the whole run within its
time budget. Derandomized, every mutant meets the same examples, and no example
database carries failures from one mutant over to the next.

``MUTATION_MAX_EXAMPLES`` (an environment variable) sets another number of examples,
to compare the verdicts of two profiles.
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
