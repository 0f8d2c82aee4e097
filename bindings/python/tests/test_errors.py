"""Every bad input to attention() is a ValueError whose message names the tensor and the problem."""

import numpy as np
import pytest

import selfattn


def qkv(lead=(2,), L=5, S=7, E=4, Ev=3):
    rng = np.random.default_rng(1)
    return (rng.standard_normal((*lead, L, E)).astype(np.float32),
            rng.standard_normal((*lead, S, E)).astype(np.float32),
            rng.standard_normal((*lead, S, Ev)).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.complex64, np.float16, bool, object])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_wrong_dtype(which, dtype):
    args = list(qkv())
    args[which] = args[which].astype(dtype)
    name = "qkv"[which]
    with pytest.raises(ValueError, match=rf"^{name} has dtype .*float32 or float64"):
        selfattn.attention(*args)


def test_not_an_array():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="^k has dtype"):
        selfattn.attention(q, [[1, 2]], v)
    with pytest.raises(ValueError, match="q has dtype"):
        selfattn.attention("text", k, v)


@pytest.mark.parametrize("bad, pattern", [
    (lambda q, k, v: (q[..., :3], k, v), r"q is \[2, 5, 3\] and k is \[2, 7, 4\]: their last dimensions \(E\)"),
    (lambda q, k, v: (q, k, v[:, :6]), r"k is \[2, 7, 4\] and v is \[2, 6, 3\]: they need the same length S"),
    (lambda q, k, v: (q, k[None], v), r"leading dimensions must match"),
    (lambda q, k, v: (q[0, 0], k, v), r"q has shape \[4\]; expected at least 2 dimensions"),
    (lambda q, k, v: (q[:, :0], k, v), r"no dimension may be 0"),
])
def test_shapes_that_do_not_agree(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        selfattn.attention(*bad(*qkv()))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_non_finite_inputs(which, value):
    args = list(qkv())
    args[which][1, 2, 0] = value
    name = "qkv"[which]
    with pytest.raises(ValueError, match=rf"tensor {name} holds a non-finite value"):
        selfattn.attention(*args)


def test_float64_beyond_float32_is_refused():
    q, k, v = qkv()
    q = q.astype(np.float64)
    q[0, 0, 0] = 1e300
    with pytest.raises(ValueError, match="tensor q holds a non-finite value"):
        selfattn.attention(q, k, v)


def test_bad_masks():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"attn_mask of shape \[3, 7\] does not broadcast"):
        selfattn.attention(q, k, v, mask=np.ones((3, 7), dtype=bool))
    with pytest.raises(ValueError, match="tensor mask holds a non-finite value"):
        selfattn.attention(q, k, v, mask=np.full((5, 7), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="tensor mask holds a non-finite value"):
        selfattn.attention(q, k, v, mask=np.full((5, 7), np.inf))
    with pytest.raises(ValueError, match="^mask has dtype int64; selfattn takes bool, float32"):
        selfattn.attention(q, k, v, mask=np.ones((5, 7), dtype=np.int64))


def test_bad_parameters():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="scale must be finite"):
        selfattn.attention(q, k, v, scale=float("inf"))
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        selfattn.attention(q, k, v, backend="cuda")
    with pytest.raises(ValueError, match="tolerance must be a positive number"):
        selfattn.attention(q, k, v, tolerance=-1.0)


def test_no_matching_adapter_is_a_runtime_error():
    q, k, v = qkv()
    with pytest.raises(RuntimeError, match="no GPU adapter found"):
        selfattn.attention(q, k, v, adapter="no adapter is called this")
