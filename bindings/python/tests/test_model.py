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
    with pytest.raises(ValueError, match="generation is not supported"):
        selfattn.model(minilm, "hi", generate=3)
    with pytest.raises(ValueError, match="is not a folder"):
        selfattn.model(tmp_path / "missing", "hi")
    with pytest.raises(ValueError, match="texts is empty"):
        selfattn.model(minilm, [])
