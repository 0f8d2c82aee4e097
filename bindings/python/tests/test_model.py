"""selfattn.model equals transformers' BertModel on all-MiniLM-L6-v2 (the committed fixtures in
tests/fixtures/model/minilm). The model folder comes from SELFATTN_MINILM_DIR (.ci/fetch-model
minilm); without it the test is skipped, unless SELFATTN_REQUIRE_MODEL=1."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import selfattn
from conftest import assert_close

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "model" / "minilm"


@pytest.fixture(scope="module")
def minilm():
    folder = os.environ.get("SELFATTN_MINILM_DIR")
    if not folder:
        if os.environ.get("SELFATTN_REQUIRE_MODEL") == "1":
            pytest.fail("SELFATTN_REQUIRE_MODEL=1 but SELFATTN_MINILM_DIR is not set")
        pytest.skip("SELFATTN_MINILM_DIR is not set (.ci/fetch-model minilm prints it)")
    return folder


def sentences():
    manifest = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    return manifest["sentences"]


def test_model_equals_transformers(gpu, minilm):
    chosen = [s for s in sentences() if s["n_tokens"] <= 40]
    assert len(chosen) >= 2
    result = selfattn.model(minilm, [s["text"] for s in chosen])
    assert (result.layers, result.heads, result.hidden) == (6, 12, 384)
    for i, s in enumerate(chosen):
        name = s["name"]
        tokens = (FIXTURES / f"{name}.tokens.txt").read_text(encoding="utf-8").splitlines()
        assert result.tokens[i] == tokens
        assert_close(result.attentions[i], np.load(FIXTURES / f"{name}.attentions.npy").astype(np.float64),
                     f"{name} attentions", atol=5e-5, rtol=1e-3)
        assert_close(result.last_hidden_state[i],
                     np.load(FIXTURES / f"{name}.last_hidden_state.npy").astype(np.float64),
                     f"{name} last_hidden_state", atol=5e-4, rtol=1e-3)
        assert result.generated[i] == []
    viewer = result.view()
    page = viewer.html()
    assert chosen[0]["text"].split()[1].lower() in page
    assert viewer.png(item=1, layer=5).startswith(b"\x89PNG")


def test_model_errors(gpu, minilm, tmp_path):
    with pytest.raises(ValueError, match="is an encoder"):
        selfattn.model(minilm, "hi", generate=3)
    with pytest.raises(ValueError, match="is not a folder"):
        selfattn.model(tmp_path / "missing", "hi")
    with pytest.raises(ValueError, match="texts is empty"):
        selfattn.model(minilm, [])


TINY_LLAMA = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "tiny_llama"


def test_a_decoder_equals_transformers_and_generates_its_ids(gpu):
    """The tiny random LlamaForCausalLM transformers wrote (tests/fixtures/tiny_llama)."""
    expected = json.loads((TINY_LLAMA / "expected.json").read_text(encoding="utf-8"))
    result = selfattn.model(TINY_LLAMA / "model", expected["text"])
    assert (result.layers, result.heads, result.hidden) == (2, 4, 8)
    assert result.tokens[0] == ["ab", "Ġ", "a", "Ġ", "b", "Ġab"]
    assert result.generated == [[]]
    assert_close(result.attentions[0], np.load(TINY_LLAMA / "attentions.npy").astype(np.float64),
                 "attentions", atol=1e-4, rtol=1e-3)
    assert_close(result.last_hidden_state[0],
                 np.load(TINY_LLAMA / "last_hidden_state.npy").astype(np.float64),
                 "last_hidden_state", atol=1e-3, rtol=1e-3)

    want = expected["generated_ids"]
    result = selfattn.model(TINY_LLAMA / "model", expected["text"], generate=len(want))
    assert result.generated == [want]
    t = len(expected["ids"]) + len(want)
    a = result.attentions[0]
    assert a.shape == (2, 4, t, t) and len(result.tokens[0]) == t
    # Causal rows that sum to one, the prompt's block as without generation.
    assert np.allclose(np.triu(a, 1), 0) and np.allclose(a.sum(-1), 1, atol=1e-5)
    n = len(expected["ids"])
    assert_close(a[:, :, :n, :n], np.load(TINY_LLAMA / "attentions.npy").astype(np.float64),
                 "prompt block", atol=1e-4, rtol=1e-3)
    assert '"causal":true' in result.view().html()
    with pytest.raises(ValueError, match="context"):
        selfattn.model(TINY_LLAMA / "model", "ab", generate=16)
    with pytest.raises(ValueError, match="leaves room"):
        selfattn.model(TINY_LLAMA / "model", "a " * 12, generate=4, truncate=False)
