#!/usr/bin/env python3
"""transformers on the CPU beside `selfattn bench --model FILE.gguf`: the same GGUF (dequantised to
float32 by transformers' loader), the same built-in paragraph cut to the same number of tokens,
timed the same way: the prompt's forward pass (tokens/s), then greedy generation with
transformers' own KV cache (ms per new token), one warm-up then medians.

    python benches/transformers_decoder.py PATH/TO/SmolLM2-135M-Instruct.Q4_1.gguf [--tokens 128] [--new-tokens 16] [--runs 3]

Needs torch, transformers, gguf, accelerate (see tests/fixtures/smollm2/make_forward.py).
"""

import argparse
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

# The same text as selfattn's built-in paragraph (src/commands/bench_model.rs, PARAGRAPH).
PARAGRAPH = (
    "Attention lets every word in a sentence look at every other word and decide how much each "
    "one matters for its own meaning. A pronoun looks back at the noun it stands for, a verb "
    "looks at its subject and its object, and punctuation often collects the attention that no "
    "other word needs. Researchers draw these weights as heatmaps, one per head and layer, to see "
    "which patterns a trained model has learned: some heads attend to the previous word, some to "
    "the next one, some to the separator token at the end, and a few follow the grammar of the "
    "sentence in surprisingly clean ways. Looking at real models, rather than random weights, is "
    "the best way to build an intuition for what the computation does, and checking every number "
    "against a slow but simple reference is the best way to trust it. The same kernels run on "
    "laptops, phones and data-centre cards."
)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("gguf")
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    folder, name = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    ids = tok(PARAGRAPH, return_tensors="pt").input_ids[:, : a.tokens]
    assert ids.shape[1] == a.tokens, f"the paragraph has only {ids.shape[1]} tokens"
    prompt, per_token = [], []
    with torch.no_grad():
        for run in range(a.runs + 1):
            start = time.perf_counter()
            model(ids)
            t_prompt = time.perf_counter() - start
            start = time.perf_counter()
            out = model.generate(ids, max_new_tokens=a.new_tokens, min_new_tokens=a.new_tokens,
                                 do_sample=False, attention_mask=torch.ones_like(ids))
            t_gen = time.perf_counter() - start
            if run > 0:
                prompt.append(t_prompt)
                # generate's time holds one prompt pass; the rest is the new tokens' steps.
                per_token.append((t_gen - t_prompt) / (out.shape[1] - ids.shape[1]))
    p_ms = statistics.median(prompt) * 1e3
    print(f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, eager float32 on the CPU")
    print(f"prompt {a.tokens} tokens: {p_ms:.1f} ms ({a.tokens / p_ms * 1e3:.1f} tokens/s); "
          f"generation: {statistics.median(per_token) * 1e3:.1f} ms per token")


if __name__ == "__main__":
    main()
