"""``selfattn.attention``: scaled_dot_product_attention on the GPU, checked on the CPU."""

from . import _selfattn
from ._arrays import as_numpy


def attention(q, k, v, mask=None, causal=False, scale=None, need_weights=True,
              backend=None, adapter=None, tolerance=None):
    """Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``.

    ``softmax(q @ k.T * scale + mask) @ v`` over the last two axes, computed by WGSL compute
    shaders and compared with selfattn's float64 CPU reference before it is returned.

    Parameters
    ----------
    q : array (..., L, E), float32 or float64
    k : array (..., S, E)
    v : array (..., S, Ev)
        The leading dimensions (batch, heads, ...) must be equal in q, k and v.
    mask : array broadcastable to (..., L, S), optional
        bool: True = the key TAKES PART (PyTorch's SDPA convention, the opposite of
        ``nn.MultiheadAttention``); float: added to the scaled scores (``-inf`` masks).
    causal : bool
        A top-left aligned lower-triangular mask (query i sees keys 0..i).
    scale : float, optional
        Factor on ``q @ k.T``; default ``1 / sqrt(E)``.
    need_weights : bool
        Also return the (..., L, S) weights. When False the output is computed by the
        output-only (online softmax) kernel and the weights are never formed.
    backend : str, optional
        "vulkan", "metal", "dx12", "gl" or "auto" (default: ``WGPU_BACKEND``, else any).
    adapter : str, optional
        Case-insensitive part of the adapter's name (default: ``WGPU_ADAPTER_NAME``).
    tolerance : float, optional
        Largest allowed |GPU - CPU| on the weights; the output is held to it scaled by its
        magnitude. Default ``selfattn.DEFAULT_TOLERANCE`` (1e-5).

    Returns
    -------
    (output, weights) : float32 arrays (..., L, Ev) and (..., L, S); weights is None when
    ``need_weights`` is False. A query whose every key is masked gets zero weights and output.

    Raises
    ------
    ValueError
        Wrong dtype (int, complex, ...), shapes that do not agree, NaN or inf in an input, a
        mask that does not broadcast. Non-contiguous arrays are accepted (read in C order).
    RuntimeError
        No GPU adapter, a GPU error, or a GPU result that disagrees with the CPU reference.
    """
    return _selfattn.attention(
        as_numpy(q), as_numpy(k), as_numpy(v),
        mask=None if mask is None else as_numpy(mask),
        causal=bool(causal),
        scale=None if scale is None else float(scale),
        need_weights=bool(need_weights),
        backend=backend, adapter=adapter, tolerance=tolerance,
    )
