"""selfattn.view: every input form, a self-contained page holding the tokens, the PNG, saving,
and clear errors for what cannot be shown."""

import html.parser
import json
import os
import re

import numpy as np
import pytest

import selfattn

TOKENS = ["[CLS]", "tok_alpha", "tok_beta", "</script>", "tok_\"quote\"", "[SEP]", "tok_gamma"]


def softmaxed(rng, *shape):
    x = rng.standard_normal(shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


class FakeTensor:
    """What view() needs of a torch tensor: .detach().cpu().numpy() (torch need not be here)."""

    def __init__(self, a):
        self.a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


def forms(rng):
    n = len(TOKENS)
    per_layer = [softmaxed(rng, 2, 3, n, n) for _ in range(4)]
    return {
        "(L,S)": (softmaxed(rng, n, n), (1, 1, 1, n, n)),
        "(heads,L,S)": (softmaxed(rng, 3, n, n), (1, 1, 3, n, n)),
        "(layers,heads,L,S)": (softmaxed(rng, 2, 3, n, n), (1, 2, 3, n, n)),
        "float64": (softmaxed(rng, 2, 3, n, n).astype(np.float64), (1, 2, 3, n, n)),
        "tuple of (batch,heads,N,N)": (tuple(per_layer), (2, 4, 3, n, n)),
        "list of tensors": ([FakeTensor(a) for a in per_layer], (2, 4, 3, n, n)),
        "tensor": (FakeTensor(softmaxed(rng, 3, n, n)), (1, 1, 3, n, n)),
    }


FORMS = list(forms(np.random.default_rng(0)))


class Srcdoc(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.frames = []

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.frames.append(dict(attrs))


def outside_references(page):
    """Anything in the page that would fetch from elsewhere."""
    page = page.replace("http://www.w3.org/2000/svg", "")  # a namespace name, never fetched
    found = re.findall(r"https?:", page)
    found += re.findall(r"""(?:src|href|action)\s*=\s*["']?//""", page)
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//", page)
    return found


def page_data(page):
    """The viewer's metadata as its script sees it."""
    text = page.split('<script type="application/json" id="viewer-data">', 1)[1]
    return json.loads(text.split("</script>", 1)[0])


@pytest.mark.parametrize("form", FORMS)
def test_each_input_form_becomes_a_self_contained_page(rng, form):
    weights, shape = forms(rng)[form]
    viewer = selfattn.view(weights, TOKENS)
    assert viewer.shape == shape
    page = viewer.html()
    assert page.startswith("<!DOCTYPE html>")
    assert outside_references(page) == []
    assert "default-src 'none'" in page
    # The tokens are in the page's data, as the page's script reads it (JSON.parse of the
    # data element's text), for every item shown.
    data = page_data(page)
    assert len(data["items"]) == shape[0]
    for item in data["items"]:
        assert item["queries"] == TOKENS and item["keys"] == TOKENS
    # and a token cannot end the data element early.
    assert "</script>" not in page.split('id="viewer-data">', 1)[1].split("</script>", 1)[0]

def test_repr_html_is_an_iframe_whose_srcdoc_is_the_page(rng):
    viewer = selfattn.view(softmaxed(rng, 2, 7, 7), TOKENS)
    shown = viewer._repr_html_()
    parser = Srcdoc()
    parser.feed(shown)
    assert len(parser.frames) == 1, shown[:200]
    frame = parser.frames[0]
    # HTMLParser unescapes attribute values: what the browser gets back is the page, exactly.
    assert frame["srcdoc"] == viewer.html()
    assert "allow-scripts" in frame["sandbox"]
    assert outside_references(shown) == []


def test_save_html_and_png(rng, tmp_path):
    viewer = selfattn.view(softmaxed(rng, 2, 3, 7, 11), TOKENS, key_tokens=[f"k{i}" for i in range(11)])
    viewer.save_html(tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text(encoding="utf-8") == viewer.html()
    viewer.save_png(tmp_path / "layer1.png", layer=1)
    png = (tmp_path / "layer1.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert viewer._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")
    assert viewer.png(layer=1) == png
    assert viewer.png(layer=0) != png
    assert sorted(os.listdir(tmp_path)) == ["layer1.png", "page.html"]  # no temporary files


def test_labels_and_options(rng):
    n = len(TOKENS)
    page = selfattn.view(softmaxed(rng, 2, 2, n, n), TOKENS, layer_names=["enc_first", "enc_last"],
                         head_names=["head_a", "head_b"], title="My <title>", causal=True,
                         colormap="magma").html()
    for label in ["enc_first", "enc_last", "head_a", "head_b"]:
        assert label in page
    assert "<title>My &lt;title&gt;</title>" in page


@pytest.mark.parametrize("bad, pattern", [
    (lambda r: r.standard_normal((2, 3, 4, 7, 7)), r"weights has shape \(2, 3, 4, 7, 7\); expected"),
    (lambda r: r.standard_normal(7), r"weights has shape \(7,\)"),
    (lambda r: np.ones((7, 7), dtype=np.int64), r"weights has dtype int64"),
    (lambda r: np.ones((7, 7), dtype=np.complex128), r"weights has dtype complex128"),
    (lambda r: np.full((7, 7), np.nan, dtype=np.float32), r"non-finite|finite"),
    (lambda r: (r.random((1, 2, 7, 7)), r.random((1, 2, 7, 5))), r"weights\[1\] has shape \(1, 2, 7, 5\)"),
    (lambda r: (r.random((2, 7, 7)),), r"weights\[0\] has shape \(2, 7, 7\).*\(batch, heads, L, S\)"),
    (lambda r: (), r"empty sequence"),
])
def test_bad_weights_are_value_errors(rng, bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        selfattn.view(bad(rng), TOKENS)


def test_token_counts_must_match(rng):
    with pytest.raises(ValueError, match=r"tokens has 6 entries for item 0 but the weights have 7"):
        selfattn.view(softmaxed(rng, 7, 7), TOKENS[:6])
    with pytest.raises(ValueError, match=r"key_tokens has 2 entries .* 5 positions along S"):
        selfattn.view(softmaxed(rng, 7, 5), TOKENS, key_tokens=["a", "b"])
    with pytest.raises(ValueError, match="not one string"):
        selfattn.view(softmaxed(rng, 7, 7), "a b c d e f g")
    with pytest.raises(ValueError, match="2 layer labels given"):
        selfattn.view(softmaxed(rng, 1, 2, 7, 7), TOKENS, layer_names=["a", "b"])
    with pytest.raises(ValueError, match="unknown colormap 'rainbow'"):
        selfattn.view(softmaxed(rng, 7, 7), TOKENS, colormap="rainbow")


def test_png_of_a_missing_layer_is_a_value_error(rng):
    viewer = selfattn.view(softmaxed(rng, 2, 1, 7, 7), TOKENS)
    with pytest.raises(ValueError, match="layer is 2 but there are 2 layers"):
        viewer.png(layer=2)


def test_view_shows_what_attention_computed(gpu, rng):
    q, k, v = (rng.standard_normal((3, 7, 4)).astype(np.float32) for _ in range(3))
    _, weights = selfattn.attention(q, k, v, causal=True)
    viewer = selfattn.view(weights, TOKENS, causal=True)
    assert viewer.shape == (1, 1, 3, 7, 7)
    assert viewer.png().startswith(b"\x89PNG")
