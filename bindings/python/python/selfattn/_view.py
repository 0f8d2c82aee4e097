"""``selfattn.view``: the self-contained attention viewer for weights from any source.

Every accepted input form is brought here to one (items, layers, heads, L, S) array; the page,
its validation and the PNG are the library's (``selfattn._selfattn.Page``).
"""

import html as _html

import numpy as np

from . import _selfattn
from ._arrays import as_numpy

#: Height of the inline frame in a notebook, in CSS pixels (the page scrolls inside it).
IFRAME_HEIGHT = 720


def _stack(weights):
    """(items, layers, heads, L, S) float32 from any accepted form, and the default item labels
    (None when the input had no batch axis)."""
    if isinstance(weights, (tuple, list)):
        # transformers' output_attentions: one (batch, heads, N, N) tensor per layer.
        if not weights:
            raise ValueError("weights is an empty sequence; expected one (batch, heads, L, S) array per layer")
        layers = [as_numpy(w) for w in weights]
        for i, w in enumerate(layers):
            if w.ndim != 4:
                raise ValueError(
                    f"weights[{i}] has shape {w.shape}; a sequence of weights holds one "
                    "(batch, heads, L, S) array per layer (transformers' output_attentions)")
            if w.shape != layers[0].shape:
                raise ValueError(
                    f"weights[{i}] has shape {w.shape} but weights[0] has {layers[0].shape}: "
                    "every layer must have the same shape")
            _check_dtype(w, f"weights[{i}]")
        # (layers, batch, heads, L, S) -> (batch, layers, heads, L, S)
        return np.stack(layers).swapaxes(0, 1), True
    w = as_numpy(weights)
    _check_dtype(w, "weights")
    if w.ndim == 2:
        return w[None, None, None], False
    if w.ndim == 3:
        return w[None, None], False
    if w.ndim == 4:
        return w[None], False
    raise ValueError(
        f"weights has shape {w.shape}; expected (L, S), (heads, L, S), (layers, heads, L, S) "
        "or a sequence of per-layer (batch, heads, L, S) arrays")


def _check_dtype(w, name):
    if w.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{name} has dtype {w.dtype}; selfattn takes float32 or float64 weights "
            f"(convert with {name.split('[')[0]}.astype(numpy.float32))")


def _token_lists(tokens, items, n, name):
    """One list of n labels per item: ``tokens`` may be None (0..n-1), one list for every item,
    or one list per item."""
    if tokens is None:
        return [[str(i) for i in range(n)] for _ in range(items)]
    if isinstance(tokens, str):
        raise ValueError(f"{name} must be a list of strings, one per position, not one string "
                         f"(did you mean {name}={tokens!r}.split()?)")
    tokens = list(tokens)
    if tokens and all(isinstance(t, (list, tuple)) for t in tokens):
        if len(tokens) != items:
            raise ValueError(f"{name} holds {len(tokens)} lists but the weights have {items} "
                             "batch elements")
        return [[str(t) for t in ts] for ts in tokens]
    return [[str(t) for t in tokens] for _ in range(items)]


def view(weights, tokens=None, key_tokens=None, layer_names=None, head_names=None,
         title="Attention", causal=False, colormap=None):
    """The self-contained attention viewer for ``weights`` from any source.

    Parameters
    ----------
    weights :
        A float array (L, S), (heads, L, S) or (layers, heads, L, S); or a tuple/list of
        per-layer (batch, heads, L, S) arrays or torch tensors, as transformers returns with
        ``output_attentions=True`` (``selfattn.view(outputs.attentions, tokens)``).
    tokens : list of str, optional
        The query tokens (rows), one per position; or one list per batch element. Default
        0..L-1.
    key_tokens : list of str, optional
        The key tokens (columns); default: ``tokens`` when L == S, else 0..S-1.
    layer_names, head_names : list of str, optional
        Default "Layer 0", ... and "Head 0", ....
    title : str
        The page's heading.
    causal : bool
        Leave the upper triangle (key after query) blank, as for a decoder.
    colormap : str, optional
        "viridis" (default), "blues" or "magma"; the page can switch.

    Returns
    -------
    Viewer
        Shows inline in Jupyter, JupyterLab, VS Code and Colab (an ``<iframe srcdoc>`` holding
        the page with its script, style and data: no CDN, no network), and saves with
        ``.save_html(path)`` / ``.save_png(path)``.

    Raises
    ------
    ValueError
        A shape, dtype, token count or value (NaN, inf) the viewer cannot show.
    """
    stacked, batched = _stack(weights)
    items, layers, heads, rows, cols = stacked.shape
    query_lists = _token_lists(tokens, items, rows, "tokens")
    if key_tokens is None and tokens is not None and rows == cols:
        key_lists = query_lists
    else:
        key_lists = _token_lists(key_tokens, items, cols, "key_tokens")
    layer_names = [f"Layer {i}" for i in range(layers)] if layer_names is None else [str(n) for n in layer_names]
    head_names = [f"Head {i}" for i in range(heads)] if head_names is None else [str(n) for n in head_names]
    item_labels = [f"batch element {i}" for i in range(items)] if batched else ["weights"]
    page = _selfattn.Page(
        list(stacked), query_lists, key_lists, layer_names, head_names,
        item_labels, str(title), causal=bool(causal), colormap=colormap)
    return Viewer(page)


class Viewer:
    """An attention viewer page. In a notebook it shows itself (``_repr_html_``, with a PNG
    fallback, ``_repr_png_``); ``save_html`` and ``save_png`` write files atomically."""

    def __init__(self, page):
        self._page = page

    @property
    def shape(self):
        """(items, layers, heads, L, S) of the weights shown (L, S of the first item; items
        from ``selfattn.model`` may differ in length)."""
        return self._page.shapes[0]

    def html(self):
        """The complete page as a string (one file, no outside references)."""
        return self._page.html()

    def _repr_html_(self):
        # srcdoc: the page's own Content-Security-Policy and inline script run inside the frame,
        # whatever the notebook front end allows in its output cells.
        srcdoc = _html.escape(self._page.html(), quote=True)
        return (f'<iframe srcdoc="{srcdoc}" style="width: 100%; height: {IFRAME_HEIGHT}px; '
                'border: none;" sandbox="allow-scripts" title="selfattn viewer"></iframe>')

    def _repr_png_(self):
        return self._page.png(0, 0)

    def png(self, item=0, layer=0):
        """The heatmap PNG (bytes) of ``layer``'s heads of batch element ``item``."""
        return self._page.png(item, layer)

    def save_html(self, path):
        """Writes the page to ``path`` (a temporary file renamed into place)."""
        self._page.save_html(str(path))

    def save_png(self, path, item=0, layer=0):
        """Writes the heatmap PNG of ``layer``'s heads of batch element ``item`` to ``path``."""
        self._page.save_png(str(path), item, layer)

    def __repr__(self):
        items, layers, heads, rows, cols = self.shape
        return (f"<selfattn.Viewer: {items} item(s), {layers} layer(s), {heads} head(s), "
                f"{rows}×{cols}>")
