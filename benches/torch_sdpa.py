#!/usr/bin/env python3
"""PyTorch's side of `selfattn bench`: the same problem, timed the same way, on the same machine.

Times torch.nn.functional.scaled_dot_product_attention (float32, the device you choose) on random
(batch, heads, N, d) inputs, and the explicit softmax(Q·Kᵀ/√d)·V that keeps the weights, reporting
the median of --runs after a warm-up and GFLOP/s counted as selfattn counts them: 4·N²·d per head
and batch element (half when causal).

    python benches/torch_sdpa.py --sizes 512,2048 --d 64            # CPU
    python benches/torch_sdpa.py --device cuda --sizes 4096 --heads 8 --json torch.json

Needs torch (and nothing else). Not run by CI.
"""
import argparse
import json
import statistics
import time

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="128,256,512,1024,2048,4096")
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--heads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--causal", action="store_true")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", help="write the records here")
    args = p.parse_args()

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__} on {name}; d = {args.d}, heads = {args.heads}, batch = {args.batch}")
    print(f"{'N':>6}  {'path':<22} {'ms':>10}  {'GFLOP/s':>9}")
    records = []
    for n in [int(s) for s in args.sizes.split(",")]:
        g = torch.Generator().manual_seed(n)
        shape = (args.batch, args.heads, n, args.d)
        q, k, v = (torch.randn(shape, generator=g).to(device) for _ in range(3))
        flops = 4.0 * n * n * args.d * args.heads * args.batch / (2 if args.causal else 1)

        def sdpa():
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=args.causal)

        def explicit():
            s = (q @ k.transpose(-2, -1)) / args.d**0.5
            if args.causal:
                s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=device).triu(1), float("-inf"))
            w = torch.softmax(s, dim=-1)
            return w @ v, w

        for label, fn, weights in [("sdpa", sdpa, False), ("explicit (keeps weights)", explicit, True)]:
            with torch.no_grad():
                fn()
                sync()
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    fn()
                    sync()
                    times.append(time.perf_counter() - start)
            t = statistics.median(times)
            print(f"{n:>6}  {label:<22} {t * 1e3:>10.3f}  {flops / t / 1e9:>9.2f}", flush=True)
            records.append({"n": n, "d": args.d, "heads": args.heads, "batch": args.batch,
                            "causal": args.causal, "kernel": f"torch_{label.split()[0]}",
                            "weights": weights, "gpu_ms": t * 1e3, "end_to_end_ms": t * 1e3,
                            "gflops": flops / t / 1e9, "cpu_ms": None, "adapter": name,
                            "backend": f"torch {device.type}"})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
