"""``selfattn.model``: a BERT-family encoder from a Hugging Face folder, checked on the CPU."""

import os

from . import _selfattn
from ._view import Viewer


def model(path, texts, generate=0, truncate=True, backend=None, adapter=None, tolerance=None):
    """Runs the encoder in the Hugging Face folder ``path`` (``config.json``,
    ``model.safetensors``, ``tokenizer.json``; BERT-family, as ``selfattn model`` supports) over
    ``texts``, on the GPU, checked against the float64 CPU forward pass.

    Parameters
    ----------
    path : str or os.PathLike
        The model folder.
    texts : str or list of str
        One text or several (run as one padded batch; each result has its own length).
    generate : int
        Tokens to generate after each text. Only 0 is supported: the models selfattn runs
        end to end are encoders (``ValueError`` otherwise).
    truncate : bool
        Cut texts longer than the model's max_position_embeddings (special tokens kept), as
        transformers' ``truncation=True``; when False such a text is a ``ValueError``.
    backend, adapter, tolerance :
        As for ``selfattn.attention``.

    Returns
    -------
    ModelResult
        ``.tokens`` (one list per text), ``.attentions`` (one float32 (layers, heads, N, N)
        array per text: transformers' ``output_attentions`` without the batch axis),
        ``.last_hidden_state`` (one (N, hidden) array per text), ``.generated`` (one empty list
        per text) and ``.view()``.
    """
    if int(generate) != 0:
        raise ValueError(
            f"generate={generate}: generation is not supported; selfattn runs encoders "
            "(BERT family) end to end, so generate must be 0")
    if isinstance(texts, str):
        texts = [texts]
    texts = [str(t) for t in texts]
    layers, heads, hidden, sentences = _selfattn.model(
        os.fspath(path), texts, truncate=bool(truncate), backend=backend, adapter=adapter,
        tolerance=tolerance)
    return ModelResult(os.path.basename(os.path.normpath(os.fspath(path))), texts, layers,
                       heads, hidden, sentences)


class ModelResult:
    """The results of ``selfattn.model``, one entry per text in every list."""

    def __init__(self, name, texts, layers, heads, hidden, sentences):
        self.name = name
        self.texts = texts
        self.layers, self.heads, self.hidden = layers, heads, hidden
        self.tokens = [s[0] for s in sentences]
        self.attentions = [s[1] for s in sentences]
        self.last_hidden_state = [s[2] for s in sentences]
        self.generated = [[] for _ in sentences]

    def view(self, colormap=None):
        """The viewer for every text: one item per text, every layer and head."""
        page = _selfattn.Page(
            self.attentions, self.tokens, self.tokens,
            [f"Layer {i}" for i in range(self.layers)], [f"Head {i}" for i in range(self.heads)],
            self.texts, self.name, causal=False, colormap=colormap)
        return Viewer(page)

    def __repr__(self):
        lengths = ", ".join(str(len(t)) for t in self.tokens)
        return (f"<selfattn.ModelResult {self.name}: {self.layers} layers × {self.heads} heads, "
                f"hidden {self.hidden}; {len(self.tokens)} text(s) of {lengths} tokens>")
