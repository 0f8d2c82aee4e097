"""Shared test setup: the GPU rule and the float64 oracles.

GPU tests need an adapter. Without one they are skipped, unless ``SELFATTN_REQUIRE_GPU=1`` (CI,
on lavapipe), where a missing adapter fails every GPU test instead of passing quietly.
"""

import os

import numpy as np
import pytest

import selfattn

REQUIRE_GPU = os.environ.get("SELFATTN_REQUIRE_GPU") == "1"


@pytest.fixture(scope="session")
def gpu():
    """The adapters; skips (or fails under SELFATTN_REQUIRE_GPU=1) when there is none."""
    found = selfattn.devices()
    if not found:
        message = ("no GPU adapter found (on Linux install mesa-vulkan-drivers for lavapipe, "
                   "and run with WGPU_BACKEND=vulkan)")
        if REQUIRE_GPU:
            pytest.fail(message + "; SELFATTN_REQUIRE_GPU=1 makes this a failure")
        pytest.skip(message)
    return found


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name, so every test draws its own reproducible data."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(request.node.name)) % (2**32)
    return np.random.default_rng(seed)


def sdpa_oracle(q, k, v, mask=None, causal=False, scale=None):
    """scaled_dot_product_attention in float64 NumPy, written from PyTorch's documentation
    (not from selfattn's code): bool mask True = take part, float mask added, causal top-left;
    a row with no key left gets zero weights (selfattn's documented rule, where PyTorch gives
    NaN)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / np.sqrt(E) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(scores.shape, dtype=bool)
    if causal:
        allowed &= np.tril(np.ones((L, S), dtype=bool))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            allowed &= np.broadcast_to(mask, scores.shape)
        else:
            scores = scores + mask.astype(np.float64)
            allowed &= np.isfinite(np.broadcast_to(scores, scores.shape))
    scores = np.where(allowed, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(allowed, np.exp(scores - top), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return weights @ v, weights


def assert_close(got, want, what, atol=2e-5, rtol=2e-4):
    """|got - want| <= atol + rtol * |want| everywhere, naming the worst element on failure."""
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
    assert np.all(np.isfinite(got)), f"{what}: non-finite values"
    assert err.size == 0 or err[worst] <= 0, (
        f"{what}: at {worst} got {got[worst]}, expected {want[worst]}")
