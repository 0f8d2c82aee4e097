"""selfattn.attention against a float64 NumPy oracle (conftest.sdpa_oracle) on awkward shapes."""

import threading
import time

import numpy as np
import pytest

import selfattn
from conftest import assert_close, sdpa_oracle

# (leading dims, L, S, E, Ev): sizes of 1, primes, and nothing a multiple of a workgroup.
SHAPES = [
    ((), 1, 1, 1, 1),
    ((), 7, 13, 5, 3),
    ((2,), 13, 7, 8, 11),
    ((2, 3), 7, 7, 16, 16),
    ((1, 5), 37, 37, 13, 7),
    ((3, 1, 2), 5, 11, 4, 6),
]


def draw(rng, lead, L, S, E, Ev, dtype=np.float32):
    q = rng.standard_normal((*lead, L, E)).astype(dtype)
    k = rng.standard_normal((*lead, S, E)).astype(dtype)
    v = rng.standard_normal((*lead, S, Ev)).astype(dtype)
    return q, k, v


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("causal", [False, True])
def test_matches_the_oracle(gpu, rng, shape, causal):
    q, k, v = draw(rng, *shape)
    out, weights = selfattn.attention(q, k, v, causal=causal)
    want_out, want_w = sdpa_oracle(q, k, v, causal=causal)
    assert out.dtype == np.float32 and weights.dtype == np.float32
    assert_close(weights, want_w, "weights")
    assert_close(out, want_out, "output")


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_output_only_kernel_matches_the_oracle(gpu, rng, shape):
    q, k, v = draw(rng, *shape)
    out, weights = selfattn.attention(q, k, v, causal=True, need_weights=False)
    assert weights is None
    assert_close(out, sdpa_oracle(q, k, v, causal=True)[0], "output")


def test_float64_inputs_and_scale(gpu, rng):
    q, k, v = draw(rng, (2,), 7, 13, 5, 3, dtype=np.float64)
    for scale in (0.37, 2.0, 0.0):
        out, weights = selfattn.attention(q, k, v, scale=scale)
        want_out, want_w = sdpa_oracle(q, k, v, scale=scale)
        assert_close(weights, want_w, f"weights, scale {scale}")
        assert_close(out, want_out, f"output, scale {scale}")


@pytest.mark.parametrize("mask_shape", [(7, 13), (1, 13), (2, 1, 7, 13), (1, 3, 1, 13), (2, 3, 7, 13), (13,)],
                         ids=str)
def test_bool_mask_broadcasts(gpu, rng, mask_shape):
    q, k, v = draw(rng, (2, 3), 7, 13, 8, 5)
    mask = rng.random(mask_shape) < 0.7
    # Every query keeps at least one key in most rows; rows with none are checked below.
    out, weights = selfattn.attention(q, k, v, mask=mask)
    want_out, want_w = sdpa_oracle(q, k, v, mask=mask)
    assert_close(weights, want_w, "weights")
    assert_close(out, want_out, "output")


def test_float_mask_is_added_and_minus_inf_masks(gpu, rng):
    q, k, v = draw(rng, (3,), 11, 7, 4, 4)
    mask = rng.standard_normal((11, 7)).astype(np.float32)
    mask[:, 2] = -np.inf
    out, weights = selfattn.attention(q, k, v, mask=mask, causal=False)
    want_out, want_w = sdpa_oracle(q, k, v, mask=mask)
    assert_close(weights, want_w, "weights")
    assert_close(out, want_out, "output")
    assert np.all(weights[..., 2] == 0)


def test_mask_with_causal_and_a_fully_masked_row(gpu, rng):
    q, k, v = draw(rng, (2,), 5, 5, 3, 3)
    mask = np.ones((5, 5), dtype=bool)
    mask[0, 0] = False  # causal leaves row 0 only key 0: now none
    out, weights = selfattn.attention(q, k, v, mask=mask, causal=True)
    want_out, want_w = sdpa_oracle(q, k, v, mask=mask, causal=True)
    assert_close(weights, want_w, "weights")
    assert_close(out, want_out, "output")
    assert np.all(weights[:, 0] == 0) and np.all(out[:, 0] == 0)


def test_non_contiguous_inputs_are_read_in_c_order(gpu, rng):
    q, k, v = draw(rng, (2,), 13, 7, 6, 5)
    qt = np.ascontiguousarray(np.swapaxes(q, -1, -2)).swapaxes(-1, -2)  # Fortran-like strides
    kt = np.concatenate([k, k], axis=-1)[..., ::2]                       # a strided view
    assert not qt.flags.c_contiguous and not kt.flags.c_contiguous
    out, weights = selfattn.attention(qt, kt, v[::-1][::-1])
    want_out, want_w = sdpa_oracle(qt, kt, v)
    assert_close(weights, want_w, "weights")
    assert_close(out, want_out, "output")


def test_the_gil_is_released_during_gpu_work(gpu, rng):
    q, k, v = draw(rng, (4,), 200, 200, 32, 32)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    selfattn.attention(q, k, v)  # the device is opened before timing
    counter = threading.Thread(target=count)
    counter.start()
    start = time.perf_counter()
    selfattn.attention(q, k, v)
    end = time.perf_counter()
    done.set()
    counter.join()
    during = [t for t in ticks if start < t < end]
    # Holding the GIL, the counter would not run at all during the call.
    assert len(during) >= 5, f"only {len(during)} ticks in a {end - start:.3f} s call"


def test_repeated_calls_reuse_the_device(gpu, rng):
    q, k, v = draw(rng, (), 7, 7, 4, 4)
    selfattn.attention(q, k, v)
    opened = selfattn._selfattn._devices_opened()
    for _ in range(3):
        selfattn.attention(q, k, v)
        selfattn.attention(q, k, v, need_weights=False)
    assert selfattn._selfattn._devices_opened() == opened
