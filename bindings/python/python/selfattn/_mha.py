"""``selfattn.mha``: nn.MultiheadAttention's forward on the GPU, checked on the CPU."""

import os

from . import _selfattn
from ._arrays import as_numpy


def mha(state_dict, query, key=None, value=None, *, heads, key_padding_mask=None,
        attn_mask=None, causal=False, need_weights=True, average_weights=True,
        backend=None, adapter=None, tolerance=None):
    """``torch.nn.MultiheadAttention(batch_first=True)`` in eval mode (no dropout).

    Parameters
    ----------
    state_dict : str, os.PathLike or dict
        The module's parameters: a safetensors file (``safetensors.torch.save_file(
        module.state_dict(), path)``; f32, f16 or bf16) or a dict of arrays/tensors under
        PyTorch's names (``in_proj_weight``/``in_proj_bias``, or ``q_proj_weight``,
        ``k_proj_weight``, ``v_proj_weight`` when kdim/vdim differ; ``out_proj.weight``,
        ``out_proj.bias``).
    query : array (N, L, E) or unbatched (L, E), float32 or float64
    key, value : arrays (N, S, kdim) and (N, S, vdim), optional
        Default: the query (self-attention), and value = key.
    heads : int
        Number of heads (PyTorch does not store it in the state dict).
    key_padding_mask : array (N, S) or (S,), optional
        bool: True = this key is padding (ignored); float: added.
    attn_mask : array (L, S) or (N*heads, L, S), optional
        bool: True = NOT allowed (nn.MultiheadAttention's convention); float: added.
    causal : bool
        Top-left causal mask.
    need_weights : bool
        Also return the weights; when False the output-only kernel runs.
    average_weights : bool
        Weights averaged over heads (N, L, S), else per head (N, heads, L, S).
    backend, adapter, tolerance :
        As for ``selfattn.attention``.

    Returns
    -------
    (output, weights) : float32 arrays; weights is None when ``need_weights`` is False. A query
    whose every key is masked gets zero weights (PyTorch gives NaN).

    Raises
    ------
    ValueError
        A missing or misshapen parameter (named), a bad dtype, shape, NaN/inf or mask.
    RuntimeError
        No GPU adapter, a GPU error, or a result that disagrees with the CPU reference.
    """
    if isinstance(state_dict, dict):
        state_dict = {k: as_numpy(v) for k, v in state_dict.items()}
    elif isinstance(state_dict, os.PathLike):
        state_dict = os.fspath(state_dict)

    def opt(x):
        return None if x is None else as_numpy(x)

    return _selfattn.mha(
        state_dict, as_numpy(query), opt(key), opt(value), heads=int(heads),
        key_padding_mask=opt(key_padding_mask), attn_mask=opt(attn_mask),
        causal=bool(causal), need_weights=bool(need_weights),
        average_weights=bool(average_weights), backend=backend, adapter=adapter,
        tolerance=tolerance)
