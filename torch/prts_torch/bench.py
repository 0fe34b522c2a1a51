"""The twin's side of `npm run bench:twin` (bench/twin-peer.ts): the same model, weights
and batches as the WebGPU engine's timed steps, as full training steps (forward,
backward, AdamW) in PyTorch, in every variant this torch and device offer:

  eager          the exact role-aware mask: dense boolean (CPU) or FlexAttention (CUDA)
  compiled       the same under torch.compile (torch >= 2)
  sdpa_causal    plain causal SDPA over the packed sequence, ignoring documents and roles:
                 not PRTS's mask, the conventional attention's cost for reference

Ends with one JSON line: per variant the median step time, tokens per second, and (CUDA)
peak memory; a variant this torch lacks is listed with the reason.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from . import attention as attn_impl
from . import checkpoint as ckpt
from .model import PrtsModel, config_from_workbench
from .optim import workbench_adamw
from .shards import list_shards, load_shard, read_index
from .threads import set_cpu_threads


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_variant(name: str, ck, shards, device, warmup: int, steps: int, impl: str, compiled: bool) -> dict:
    model = PrtsModel(config_from_workbench(ck.config, ck.vocab_size), attention=impl).to(device)
    model.load_named(ck.params)
    opt = workbench_adamw(model, ck.config["train"])
    run = torch.compile(model) if compiled else model
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i in range(warmup + steps):
        b = shards[i % len(shards)]
        sync(device)
        t0 = time.perf_counter()
        opt.zero_grad()
        out = run(b)
        out["total"].backward()
        opt.step(1e-4)
        sync(device)
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    r = {"status": "ok", "step_ms": round(ms, 3), "loss": round(float(out["total"]), 5)}
    if device.type == "cuda":
        r["peak_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int)
    ap.add_argument("--variants", default="eager,compiled,sdpa_causal")
    a = ap.parse_args(argv)
    if a.threads:
        set_cpu_threads(a.threads)
    device = torch.device("cuda" if (a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())) else "cpu")
    index = read_index(a.shards)
    ck = ckpt.load(f"{a.shards}/init")
    shards = [load_shard(p, device) for p in list_shards(a.shards)]
    tokens = statistics.mean(index["tokens"][: len(shards)])
    exact = "flex" if (device.type == "cuda" and attn_impl.HAS_FLEX) else "dense"
    plan = {
        "eager": (exact, False, None),
        "compiled": (exact, True, None if hasattr(torch, "compile") else f"torch {torch.__version__} has no torch.compile"),
        "sdpa_causal": ("sdpa_causal", False, None if attn_impl.HAS_SDPA else f"torch {torch.__version__} has no scaled_dot_product_attention"),
    }
    out = {}
    for name in a.variants.split(","):
        if name not in plan:
            ap.error(f"--variants: unknown variant {name!r} (known: {', '.join(plan)})")
        impl, compiled, missing = plan[name]
        if missing:
            out[name] = {"status": "unavailable", "reason": missing}
            continue
        try:
            r = time_variant(name, ck, shards, device, a.warmup, a.steps, impl, compiled)
            r["mask"] = impl
            r["tokens_per_s"] = round(tokens / (r["step_ms"] / 1000), 1)
            out[name] = r
        except Exception as e:  # a variant that fails is reported, the others still run
            out[name] = {"status": "failed", "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
        print(f"{name}: {out[name]}", file=sys.stderr, flush=True)
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()} threads"
    print(json.dumps({"torch": torch.__version__, "device": dev, "real_tokens": round(tokens, 1), "variants": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
