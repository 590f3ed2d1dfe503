"""erf and GELU, scaled_dot_product_attention, MultiheadAttention and
TransformerEncoderLayer: their own rules first, then side by side with PyTorch."""

import itertools
import math

import numpy as np
import pytest

import tinygrad_ann as tg
import tinygrad_ann.functional as F
from tinygrad_ann import nn
from tinygrad_ann.errors import ShapeError
from tinygrad_ann.sequence_ops import erf_array

TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def test_erf_matches_the_standard_library_to_float64_rounding():
    rng = np.random.default_rng(0)
    points = np.concatenate(
        [
            rng.uniform(-7.0, 7.0, 20000),
            rng.normal(0.0, 0.3, 20000),
            np.linspace(-30.0, 30.0, 6001),
            [0.46875, -0.46875, 4.0, -4.0, 26.5, 1e-300, 5e-324, 1e-8],
        ]
    )
    expected = np.array([math.erf(x) for x in points])
    relative = np.abs(erf_array(points) - expected) / np.maximum(np.abs(expected), 1e-300)
    assert relative.max() < 1e-15


def test_erf_keeps_signs_infinities_nan_and_float32():
    values = erf_array(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]))
    np.testing.assert_array_equal(values[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(values[1]) and np.isnan(values[4])
    assert erf_array(np.ones(2, dtype=np.float32)).dtype == np.float32


def test_erf_gradient_is_two_over_root_pi_times_a_gaussian():
    x = tg.tensor(np.linspace(-3, 3, 13), requires_grad=True)
    F.erf(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 / math.sqrt(math.pi) * np.exp(-(x.data**2)), **TIGHT)


def test_gelu_module_and_its_forms():
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(tg.ones(2), approximate="sigmoid")
    x = tg.tensor([-2.0, 0.5, 3.0])
    exact, rough = F.gelu(x).data, F.gelu(x, approximate="tanh").data
    assert np.abs(exact - rough).max() < 1e-3


def test_causal_attention_lets_the_first_query_see_only_the_first_key():
    rng = np.random.default_rng(0)
    q, k, v = (tg.tensor(rng.standard_normal((2, 4, 3))) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.data[:, 0], v.data[:, 0], **TIGHT)


def test_a_query_with_no_key_to_attend_to_gets_zeros_and_no_gradient():
    q = tg.tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True)
    mask = np.array([[True, False, True], [False, False, False], [True, True, True]])
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    np.testing.assert_array_equal(out.data[1], 0)
    float_mask = np.where(mask, 0.0, -np.inf)
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, q, q, float_mask).data, out.data
    )
    out.sum().backward()
    assert np.isfinite(q.grad.data).all()


def test_attention_errors_say_what_is_wrong():
    x = tg.ones(2, 3, 4)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(ShapeError, match="must agree in E"):
        F.scaled_dot_product_attention(x, tg.ones(2, 3, 5), x)
    with pytest.raises(ShapeError, match="attn_mask of shape \\(4, 4\\)"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((4, 4), bool))
    with pytest.raises(TypeError, match="boolean or floating-point"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((3, 3), int))


def test_attention_dropout_follows_the_seed():
    x = tg.randn(2, 5, 4)
    tg.manual_seed(3)
    first = F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).data
    tg.manual_seed(3)
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(x, x, x, dropout_p=0.5).data, first
    )
    assert not np.allclose(F.scaled_dot_product_attention(x, x, x).data, first)


def test_multihead_attention_layout_and_errors():
    attention = nn.MultiheadAttention(6, 2)
    assert list(attention.state_dict()) == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    assert attention.in_proj_weight.shape == (18, 6)
    np.testing.assert_array_equal(attention.in_proj_bias.data, 0)
    assert [n for n, _ in nn.MultiheadAttention(6, 2, bias=False).named_parameters()] == [
        "in_proj_weight",
        "out_proj.weight",
    ]
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(NotImplementedError, match="kdim"):
        nn.MultiheadAttention(6, 2, kdim=3)
    x = tg.ones(4, 2, 6)
    with pytest.raises(ValueError, match="pass attn_mask too"):
        attention(x, x, x, is_causal=True)
    with pytest.raises(ShapeError, match="query must have shape \\(L, N, E\\)"):
        attention(tg.ones(4, 2, 5), x, x)
    with pytest.raises(ShapeError, match="key_padding_mask must have shape \\(N, S\\)"):
        attention(x, x, x, key_padding_mask=np.zeros((4, 2), bool))
    output, weights = attention(x, x, x, average_attn_weights=False)
    assert output.shape == (4, 2, 6) and weights.shape == (2, 2, 4, 4)
    assert attention(x, x, x, need_weights=False)[1] is None


def test_multihead_attention_second_order():
    tg.manual_seed(0)
    attention = nn.MultiheadAttention(4, 2)
    x = tg.randn(3, 1, 4, requires_grad=True)
    mask = np.triu(np.ones((3, 3), dtype=bool), 1)
    assert tg.gradgradcheck(lambda x: attention(x, x, x, attn_mask=mask)[0], [x])


def test_encoder_layer_keys_and_training_dropout():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation="gelu")
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
        "linear1.weight",
        "linear1.bias",
        "linear2.weight",
        "linear2.bias",
        "norm1.weight",
        "norm1.bias",
        "norm2.weight",
        "norm2.bias",
    ]
    x = tg.randn(5, 2, 8)
    tg.manual_seed(4)
    first = layer(x).data
    tg.manual_seed(4)
    np.testing.assert_array_equal(layer(x).data, first)
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, layer(x).data)
    assert not np.allclose(layer(x).data, first)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")


# ------------------------------------------------------------------ side by side with PyTorch
@pytest.fixture
def torch():
    module = pytest.importorskip("torch", reason="PyTorch is an optional reference")
    previous = module.get_default_dtype()
    module.set_default_dtype(module.float64)
    yield module
    module.set_default_dtype(previous)


def _copy(ours, theirs):
    state = theirs.state_dict()
    assert list(state) == [name for name, _ in ours.named_parameters()]
    for name, parameter in ours.named_parameters():
        parameter.data[...] = state[name].numpy()


def _same_gradients(ours, theirs):
    reference = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        np.testing.assert_allclose(parameter.grad.data, reference[name].grad.numpy(), **TIGHT)


def _leaves(torch, *arrays):
    return [tg.tensor(a, requires_grad=True) for a in arrays], [
        torch.tensor(a, requires_grad=True) for a in arrays
    ]


def _masks(torch, options):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_agrees_with_pytorch(torch, approximate):
    x = np.random.default_rng(0).normal(0, 3, 2000)
    (ours,), (theirs,) = _leaves(torch, x)
    out = F.gelu(ours, approximate)
    expected = torch.nn.functional.gelu(theirs, approximate=approximate)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), **TIGHT)


@pytest.mark.parametrize(
    ("mask", "is_causal", "scale"),
    [
        (None, False, None),
        (None, True, None),
        (None, False, 0.3),
        ("bool", False, None),
        ("bool_empty_row", False, None),
        ("float", False, 0.7),
    ],
)
def test_scaled_dot_product_attention_agrees_with_pytorch(torch, mask, is_causal, scale):
    rng = np.random.default_rng(0)
    source = 4 if is_causal else 6
    arrays = [rng.standard_normal(s) for s in ((2, 3, 4, 5), (2, 3, source, 5), (2, 3, source, 7))]
    attn_mask = None
    if mask == "bool":
        attn_mask = rng.random((4, 6)) > 0.3
        attn_mask[:, 0] = True
    elif mask == "bool_empty_row":
        attn_mask = rng.random((3, 4, 6)) > 0.3
        attn_mask[1, 2] = False
    elif mask == "float":
        attn_mask = rng.standard_normal((4, 6))
        attn_mask[0, 2] = -np.inf
    ours, theirs = _leaves(torch, *arrays)
    out = F.scaled_dot_product_attention(*ours, attn_mask, is_causal=is_causal, scale=scale)
    their_mask = None if attn_mask is None else torch.tensor(attn_mask)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=their_mask, is_causal=is_causal, scale=scale
    )
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)
    upstream = rng.standard_normal(out.shape)
    (out * upstream).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), **TIGHT)


MHA_CASES = [
    case
    for case in itertools.product(
        [False, True],  # batch_first
        [True, False],  # bias
        [True, False],  # need_weights
        [True, False],  # average_attn_weights
        ["none", "key_padding", "float_attn", "both", "bool_per_head", "causal"],
        [False, True],  # unbatched
    )
    if not (case[5] and case[4] in ("key_padding", "both", "bool_per_head"))
]


# PyTorch warns that a boolean key_padding_mask beside a float attn_mask is deprecated.
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize(
    ("batch_first", "bias", "need_weights", "average", "masks", "unbatched"), MHA_CASES
)
def test_multihead_attention_agrees_with_pytorch(
    torch, batch_first, bias, need_weights, average, masks, unbatched
):
    ours = nn.MultiheadAttention(6, 2, bias=bias, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(6, 2, bias=bias, batch_first=batch_first)
    _copy(ours, theirs)
    rng = np.random.default_rng(len(masks))
    length, source, batch = 4, 4 if masks == "causal" else 5, 3

    def shape(time):
        if unbatched:
            return (time, 6)
        return (batch, time, 6) if batch_first else (time, batch, 6)

    arrays = [rng.standard_normal(shape(t)) for t in (length, source, source)]
    options = {}
    if masks in ("key_padding", "both"):
        padding = rng.random((batch, source)) < 0.3
        padding[:, 0] = False
        options["key_padding_mask"] = padding
    if masks in ("float_attn", "both"):
        options["attn_mask"] = rng.standard_normal((length, source))
    if masks == "bool_per_head":
        per_head = rng.random((batch * 2, length, source)) < 0.3
        per_head[..., 1] = False
        options["attn_mask"] = per_head
    if masks == "causal":
        options["attn_mask"] = np.triu(np.ones((length, length), dtype=bool), 1)
        options["is_causal"] = True
    mine, reference = _leaves(torch, *arrays)
    common = {"need_weights": need_weights, "average_attn_weights": average}
    out, weights = ours(*mine, **common, **options)
    expected, expected_weights = theirs(*reference, **common, **_masks(torch, options))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)
    assert (weights is None) == (expected_weights is None)
    upstream = rng.standard_normal(out.shape)
    loss, their_loss = (out * upstream).sum(), (expected * torch.tensor(upstream)).sum()
    if weights is not None:
        np.testing.assert_allclose(weights.data, expected_weights.detach().numpy(), **TIGHT)
        upstream = rng.standard_normal(weights.shape)
        loss = loss + (weights * upstream).sum()
        their_loss = their_loss + (expected_weights * torch.tensor(upstream)).sum()
    loss.backward()
    their_loss.backward()
    _same_gradients(ours, theirs)
    for leaf, their_leaf in zip(mine, reference):
        np.testing.assert_allclose(leaf.grad.data, their_leaf.grad.numpy(), **TIGHT)


@pytest.mark.parametrize(
    ("activation", "norm_first", "batch_first", "bias", "masks"),
    list(
        itertools.product(
            ["relu", "gelu"],
            [False, True],
            [False, True],
            [True, False],
            [None, "padding", "causal"],
        )
    ),
)
def test_encoder_layer_agrees_with_pytorch(torch, activation, norm_first, batch_first, bias, masks):
    options = dict(
        dim_feedforward=12,
        activation=activation,
        norm_first=norm_first,
        batch_first=batch_first,
        bias=bias,
    )
    ours = nn.TransformerEncoderLayer(8, 2, **options).eval()
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **options).eval()
    _copy(ours, theirs)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))
    given = {}
    if masks == "padding":
        padding = rng.random((3, 5)) < 0.3
        padding[:, 0] = False
        given["src_key_padding_mask"] = padding
    elif masks == "causal":
        given["src_mask"] = np.triu(np.ones((5, 5), dtype=bool), 1)
        given["is_causal"] = True
    (mine,), (reference,) = _leaves(torch, x)
    out, expected = ours(mine, **given), theirs(reference, **_masks(torch, given))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)
    upstream = rng.standard_normal(out.shape)
    (out * upstream).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    _same_gradients(ours, theirs)
    np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), **TIGHT)


def test_erf_in_float32_is_within_six_of_its_ulps_and_keeps_its_dtype():
    """float32 is computed in float32 (a third of the time); float64 stays within an ulp."""
    import math

    from tinygrad_ann.sequence_ops import erf_array

    points = np.concatenate([np.linspace(-6.0, 6.0, 20001), [0.0, -0.0, 30.0, -30.0]])
    single = points.astype(np.float32)
    exact = np.array([math.erf(float(value)) for value in single])
    got = erf_array(single)
    assert got.dtype == np.float32
    ulps = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got.astype(np.float64) - exact) / ulps) <= 6
    assert np.isnan(erf_array(np.array([np.nan], dtype=np.float32))).all()
    assert np.signbit(erf_array(np.array([-0.0], dtype=np.float32)))[0]
