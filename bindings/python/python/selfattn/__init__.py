"""selfattn: self-attention in WGSL compute shaders, checked against an f64 CPU reference.

Every GPU result is compared with the library's float64 CPU twin before it is returned; a
disagreement beyond the tolerance raises ``RuntimeError`` rather than hand back a wrong answer.

Functions
---------
attention(q, k, v, ...)
    ``torch.nn.functional.scaled_dot_product_attention`` on numpy arrays.
mha(state_dict, query, ..., heads=...)
    ``torch.nn.MultiheadAttention(batch_first=True)`` from a safetensors file or a dict of
    arrays under PyTorch's names.
model(path, texts)
    A BERT-family encoder from a Hugging Face folder: tokens, attentions, last hidden state.
view(weights, tokens, ...)
    The self-contained attention viewer for weights from any source (a numpy array, or the
    per-layer tuple transformers returns with ``output_attentions=True``).
devices()
    The GPU adapters wgpu sees.

Errors: ``ValueError`` for bad inputs (dtype, shape, NaN/inf), ``RuntimeError`` for the GPU
(no adapter, device lost, a result that disagrees with the CPU reference), ``OSError`` for files
that cannot be written.
"""

from ._attention import attention
from ._devices import devices
from ._mha import mha
from ._model import ModelResult, model
from ._view import Viewer, view
from ._selfattn import DEFAULT_TOLERANCE

__all__ = ["attention", "mha", "model", "ModelResult", "devices", "view", "Viewer", "DEFAULT_TOLERANCE"]
__version__ = "0.1.0"
