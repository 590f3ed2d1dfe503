"""A compiled loss reads each call's own target: targets that the functional API
converts (a dtype, the classes moved last for (N, C, d1, ...) scores, a single sample)
before its op must reach the plan as the call's argument, never as the first call's
values frozen into it."""

import numpy as np
import pytest
from plan_kinds import plan_kind  # noqa: F401 - every test runs in each form of a plan

import tinygrad_ann as tg
import tinygrad_ann.functional as F

RNG = np.random.default_rng(0)
SCORES = RNG.standard_normal((4, 3, 5))
PROBABILITIES = RNG.dirichlet(np.ones(3), size=(4, 5)).transpose(0, 2, 1)


def probabilities(seed):
    return np.random.default_rng(seed).dirichlet(np.ones(3), size=(4, 5)).transpose(0, 2, 1)


CASES = {
    "cross_entropy (N, C, d)": (
        lambda s, t: F.cross_entropy(s, t),
        SCORES,
        lambda seed: np.random.default_rng(seed).integers(0, 3, (4, 5)),
    ),
    "cross_entropy (N, C, d) probabilities": (
        lambda s, t: F.cross_entropy(s, t),
        SCORES,
        probabilities,
    ),
    "cross_entropy options": (
        lambda s, t: F.cross_entropy(s, t, weight=[1.0, 2.0, 0.5], label_smoothing=0.1),
        SCORES[:, :, 0],
        lambda seed: np.random.default_rng(seed).integers(0, 3, 4),
    ),
    "cross_entropy int32 labels": (
        lambda s, t: F.cross_entropy(s, t),
        SCORES[:, :, 0],
        lambda seed: np.random.default_rng(seed).integers(0, 3, 4).astype(np.int32),
    ),
    "cross_entropy single sample": (
        lambda s, t: F.cross_entropy(s, t),
        SCORES[0, :, 0],
        lambda seed: np.array(seed % 3),
    ),
    "nll_loss (N, C, d)": (
        lambda s, t: F.nll_loss(s.log_softmax(1), t),
        SCORES,
        lambda seed: np.random.default_rng(seed).integers(0, 3, (4, 5)),
    ),
    "mse_loss float32 target": (
        lambda s, t: F.mse_loss(s, t),
        SCORES,
        lambda seed: np.random.default_rng(seed).standard_normal((4, 3, 5)).astype(np.float32),
    ),
    "binary_cross_entropy_with_logits int target": (
        lambda s, t: F.binary_cross_entropy_with_logits(s, t),
        SCORES,
        lambda seed: np.random.default_rng(seed).integers(0, 2, (4, 3, 5)),
    ),
}


@pytest.mark.parametrize("loss, scores, target_of", CASES.values(), ids=list(CASES))
def test_a_compiled_loss_reads_every_calls_target(loss, scores, target_of):
    step = tg.compile(loss)
    leaf = tg.tensor(scores, requires_grad=True)
    for seed in range(4):  # the first call records; the others replay
        target = target_of(seed)
        expected = loss(tg.tensor(scores), target).item()
        assert step(leaf, target).item() == expected, seed
