"""attention() and mha() equal the committed PyTorch fixtures (tests/fixtures/{sdpa,mha}: inputs,
the arguments PyTorch was called with, and its outputs; made by tests/fixtures/make_fixtures.py)."""

import shlex
from pathlib import Path

import numpy as np
import pytest

import selfattn
from conftest import assert_close

FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"


def cases(kind):
    return sorted(p.name for p in (FIXTURES / kind).iterdir()
                  if (p / "expected_output.npy").exists())


def args_of(case):
    words = shlex.split((case / "args.txt").read_text())
    args = {}
    i = 0
    while i < len(words):
        flag = words[i].lstrip("-").replace("-", "_")
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            args[flag] = words[i + 1]
            i += 2
        else:
            args[flag] = True
            i += 1
    return args


def load(case, name):
    path = case / f"{name}.npy"
    return np.load(path) if path.exists() else None


def test_there_are_fixtures():
    assert len(cases("sdpa")) >= 5 and len(cases("mha")) >= 10, FIXTURES


@pytest.mark.parametrize("name", cases("sdpa"))
def test_attention_equals_pytorch(gpu, name):
    case = FIXTURES / "sdpa" / name
    args = args_of(case)
    out, weights = selfattn.attention(
        load(case, "q"), load(case, "k"), load(case, "v"), mask=load(case, "attn_mask"),
        causal=bool(args.pop("causal", False)),
        scale=float(args.pop("scale")) if "scale" in args else None)
    assert not args, f"unhandled fixture arguments {args}"
    assert_close(weights, load(case, "expected_weights").astype(np.float64), "weights")
    assert_close(out, load(case, "expected_output").astype(np.float64), "output")


# The dict form from every fixture but bf16's, which numpy has no dtype for (the file form
# covers it).
MHA_CASES = [(n, "file") for n in cases("mha")] + [
    (n, "dict") for n in cases("mha") if n != "bf16_weights"]


@pytest.mark.parametrize("name, source", MHA_CASES)
def test_mha_equals_pytorch(gpu, name, source):
    case = FIXTURES / "mha" / name
    args = args_of(case)
    state_dict = case / "state_dict.safetensors"
    if source == "dict":
        safetensors_numpy = pytest.importorskip("safetensors.numpy")
        state_dict = safetensors_numpy.load_file(state_dict)
        state_dict = {k: v.astype(np.float32) if v.dtype == np.float16 else v
                      for k, v in state_dict.items()}
    out, weights = selfattn.mha(
        state_dict, load(case, "query"), load(case, "key"), load(case, "value"),
        heads=int(args.pop("heads")), key_padding_mask=load(case, "key_padding_mask"),
        attn_mask=load(case, "attn_mask"), causal=bool(args.pop("causal", False)),
        average_weights=not args.pop("per_head", False))
    assert not args, f"unhandled fixture arguments {args}"
    assert_close(weights, load(case, "expected_weights").astype(np.float64), "weights")
    assert_close(out, load(case, "expected_output").astype(np.float64), "output")


def test_mha_refuses_what_it_does_not_support():
    case = FIXTURES / "mha" / "add_bias_kv"
    with pytest.raises(ValueError, match="bias_k"):
        selfattn.mha(case / "state_dict.safetensors", load(case, "query"), heads=2)


def test_mha_names_a_missing_or_misshapen_parameter(rng):
    e = 6
    sd = {"in_proj_weight": rng.standard_normal((3 * e, e)),
          "out_proj.weight": rng.standard_normal((e, e))}
    query = rng.standard_normal((2, 5, e))
    selfattn.mha(sd, query, heads=2)  # biases are optional
    with pytest.raises(ValueError, match="in_proj_weight"):
        selfattn.mha({"out_proj.weight": sd["out_proj.weight"]}, query, heads=2)
    with pytest.raises(ValueError, match=r"out_proj.weight' has shape \[6, 5\]"):
        selfattn.mha({**sd, "out_proj.weight": sd["out_proj.weight"][:, :5]}, query, heads=2)
    with pytest.raises(ValueError, match="heads 4: embed_dim 6 is not divisible"):
        selfattn.mha(sd, query, heads=4)
    with pytest.raises(ValueError, match=r"state_dict\['in_proj_weight'\] has dtype int64"):
        selfattn.mha({**sd, "in_proj_weight": sd["in_proj_weight"].astype(np.int64)}, query, heads=2)
    with pytest.raises(ValueError, match="No such file|cannot|not"):
        selfattn.mha("/nonexistent/state_dict.safetensors", query, heads=2)
