"""``selfattn.model``: a BERT-family encoder or a LLaMA-family decoder, checked on the CPU."""

import os

from . import _selfattn
from ._view import Viewer


def model(path, texts, generate=0, truncate=True, backend=None, adapter=None, tolerance=None):
    """Runs the model at ``path`` over ``texts`` on the GPU, checked against the float64 CPU
    forward pass: a BERT-family encoder (a Hugging Face folder: ``config.json``,
    ``model.safetensors``, ``tokenizer.json``) or a LLaMA-family decoder (a GGUF file, or a
    Hugging Face folder whose ``config.json`` says ``model_type`` llama), as ``selfattn model``.

    Parameters
    ----------
    path : str or os.PathLike
        The model folder or GGUF file.
    texts : str or list of str
        One text or several (an encoder runs them as one padded batch, a decoder one after
        the other; each result has its own length).
    generate : int
        A decoder only: tokens to generate greedily after each text (stopping after EOS),
        with the KV cache on the GPU; ``.generated`` holds their ids, and the tokens,
        attentions and hidden states then cover the whole sequence. ``ValueError`` for an
        encoder.
    truncate : bool
        Cut texts longer than the model's positions (max_position_embeddings, or a decoder's
        context less ``generate``), as transformers' ``truncation=True``; when False such a
        text is a ``ValueError``.
    backend, adapter, tolerance :
        As for ``selfattn.attention``.

    Returns
    -------
    ModelResult
        ``.tokens`` (one list per text), ``.attentions`` (one float32 (layers, heads, N, N)
        array per text: transformers' ``output_attentions`` without the batch axis),
        ``.last_hidden_state`` (one (N, hidden) array per text), ``.generated`` (one list of
        generated ids per text; empty without ``generate``) and ``.view()``.
    """
    generate = int(generate)
    if generate < 0:
        raise ValueError(f"generate={generate}: it must be 0 or more")
    if isinstance(texts, str):
        texts = [texts]
    texts = [str(t) for t in texts]
    layers, heads, hidden, causal, sentences = _selfattn.model(
        os.fspath(path), texts, generate=generate, truncate=bool(truncate), backend=backend,
        adapter=adapter, tolerance=tolerance)
    return ModelResult(os.path.basename(os.path.normpath(os.fspath(path))), texts, layers,
                       heads, hidden, sentences, causal)


class ModelResult:
    """The results of ``selfattn.model``, one entry per text in every list."""

    def __init__(self, name, texts, layers, heads, hidden, sentences, causal=False):
        self.name = name
        self.texts = texts
        self.layers, self.heads, self.hidden = layers, heads, hidden
        self.tokens = [s[0] for s in sentences]
        self.attentions = [s[1] for s in sentences]
        self.last_hidden_state = [s[2] for s in sentences]
        self.generated = [list(s[3]) for s in sentences]
        self.causal = causal

    def view(self, colormap=None):
        """The viewer for every text: one item per text, every layer and head."""
        page = _selfattn.Page(
            self.attentions, self.tokens, self.tokens,
            [f"Layer {i}" for i in range(self.layers)], [f"Head {i}" for i in range(self.heads)],
            self.texts, self.name, causal=self.causal, colormap=colormap)
        return Viewer(page)

    def __repr__(self):
        lengths = ", ".join(str(len(t)) for t in self.tokens)
        return (f"<selfattn.ModelResult {self.name}: {self.layers} layers × {self.heads} heads, "
                f"hidden {self.hidden}; {len(self.tokens)} text(s) of {lengths} tokens>")
