"""The twin half of `npm run twin:check` (src/twin/check-data.ts writes the other half).

From the workbench's step-0 checkpoint and its batch shards, recompute in float64:
every loss term of step 0, every gradient, every parameter after one AdamW step, and
the loss curve of all the shards; compare with what the WebGPU engine got (f32) and end
with one JSON line of the largest relative errors. Exit 1 when a tolerance is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from . import checkpoint as ckpt
from . import safetensors_io as st
from .model import PrtsModel, config_from_workbench
from .optim import Schedule, lr_at, workbench_adamw
from .shards import list_shards, load_shard, read_index

TOLERANCES = {"loss": 1e-5, "grad": 1e-4, "param": 1e-5, "curve": 1e-3}


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def tensor_rel(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got - want| relative to the tensor's scale (max |want|)."""
    scale = float(want.abs().max()) if want.numel() else 0.0
    diff = float((got.to(torch.float64) - want.to(torch.float64)).abs().max()) if want.numel() else 0.0
    return diff / scale if scale > 0 else diff


def schedule_of(config: dict, planned_steps: int) -> Schedule:
    t = config["train"]
    return Schedule(lr=t["lr"], warmup=min(t["warmupSteps"], planned_steps), steps=planned_steps, min_ratio=t.get("minLrRatio", 0.1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.check", description=__doc__)
    ap.add_argument("--dir", required=True, help="the directory npm run twin:check wrote")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--dit", metavar="DIR", help="also check the DiT post-training step src/twin/check-dit.ts wrote there (keys dit_*)")
    a = ap.parse_args(argv)
    t0 = time.time()
    dtype = getattr(torch, a.dtype)
    index = read_index(a.dir)
    ck = ckpt.load(os.path.join(a.dir, "init"))
    expected_t, _ = st.load(os.path.join(a.dir, "expected.safetensors"))
    with open(os.path.join(a.dir, "expected.json")) as f:
        expected = json.load(f)
    model = PrtsModel(config_from_workbench(ck.config, ck.vocab_size)).to(dtype)
    model.load_named(ck.params)
    shards = [load_shard(p) for p in list_shards(a.dir)]
    sched = schedule_of(ck.config, int(ck.trainer["steps"]))

    # Step 0: loss terms and gradients.
    out = model.losses(shards[0])
    out["total"].backward()
    e0 = expected["step0"]
    loss_rel = {"total": rel(float(out["total"]), e0["total"]), "bc": rel(float(out["bc"]), e0["bc"])}
    if e0["sal"] is not None:
        loss_rel["sal"] = rel(float(out["sal"]), e0["sal"])
        loss_rel["lsa"] = rel(float(out["lsa"]), e0["lsa"])
    if e0.get("grounding") is not None:
        loss_rel["grounding"] = rel(float(out["grounding"]), e0["grounding"])
    grad_rel = {}
    named = model.named()
    for name, p in named.items():
        want = expected_t.get(f"grad.{name}")
        if (want is None) != (p.grad is None):
            grad_rel[name] = float("inf")  # one side has a gradient, the other none
        elif want is not None:
            grad_rel[name] = tensor_rel(p.grad, want)

    # One AdamW step, taken twice from the same parameters: on the engine's gradients (the
    # optimizer's arithmetic alone; Adam divides by |g|, so an entry whose gradient is
    # ~1e-7 would turn the engine's f32 rounding of g into a visible change of its update)
    # and on the twin's own gradients (end to end, reported; this one continues the curve).
    start = {name: p.detach().clone() for name, p in named.items()}
    own_grads = {name: p.grad for name, p in named.items()}
    for name, p in named.items():
        want = expected_t.get(f"grad.{name}")
        p.grad = None if want is None else want.to(dtype).clone()
    workbench_adamw(model, ck.config["train"]).step(lr_at(0, sched))
    param_rel = {name: tensor_rel(p.detach(), expected_t[f"param1.{name}"]) for name, p in named.items()}
    with torch.no_grad():
        for name, p in named.items():
            p.copy_(start[name])
            p.grad = own_grads[name]
    opt = workbench_adamw(model, ck.config["train"])
    opt.step(lr_at(0, sched))
    e2e_rel = {name: tensor_rel(p.detach(), expected_t[f"param1.{name}"]) for name, p in named.items()}
    e2e_abs = max(float((p.detach() - expected_t[f"param1.{name}"].to(dtype)).abs().max()) for name, p in named.items())
    curve = [float(out["total"])]
    for k in range(1, len(shards)):
        opt.zero_grad()
        o = model.losses(shards[k])
        o["total"].backward()
        opt.step(lr_at(k, sched))
        curve.append(float(o["total"]))
    want_curve = [c["total"] for c in expected["curve"]]
    curve_rel = [rel(g, w) for g, w in zip(curve, want_curve)]

    worst = lambda d: max(d.items(), key=lambda kv: kv[1]) if d else ("", 0.0)
    g_name, g_max = worst(grad_rel)
    p_name, p_max = worst(param_rel)
    e_name, e_max = worst(e2e_rel)
    result = {
        "twin_check": True,
        "pass": max(loss_rel.values()) <= TOLERANCES["loss"] and g_max <= TOLERANCES["grad"] and p_max <= TOLERANCES["param"] and max(curve_rel) <= TOLERANCES["curve"],
        "loss_rel_max": max(loss_rel.values()),
        "loss_rel": {k: float(f"{v:.3g}") for k, v in loss_rel.items()},
        "grad_rel_max": g_max,
        "grad_worst": g_name,
        "param_rel_max": p_max,
        "param_worst": p_name,
        "param_e2e_rel_max": e_max,
        "param_e2e_worst": e_name,
        "param_e2e_abs_max": e2e_abs,
        "curve_rel_max": max(curve_rel),
        "curve_steps": len(curve),
        "curve_first_last": [want_curve[0], want_curve[-1]],
        "tolerances": TOLERANCES,
        "params": sum(p.numel() for p in named.values()),
        "tensors": len(named),
        "torch": torch.__version__,
        "dtype": a.dtype,
        "seconds": round(time.time() - t0, 1),
    }
    for k in ("loss_rel_max", "grad_rel_max", "param_rel_max", "param_e2e_rel_max", "param_e2e_abs_max", "curve_rel_max"):
        result[k] = float(f"{result[k]:.3g}")
    print(f"loss terms: {result['loss_rel']}", file=sys.stderr)
    print(f"gradients: worst {g_name} {g_max:.3g}; parameters after one step on the engine's gradients: worst {p_name} {p_max:.3g}; on the twin's own: worst {e_name} {e_max:.3g} (largest absolute difference {e2e_abs:.3g})", file=sys.stderr)
    print("loss curve (engine / twin): " + "  ".join(f"{w:.4f}/{g:.4f}" for w, g in zip(want_curve, curve)), file=sys.stderr)
    if a.dit:
        from . import check_dit  # it imports rel and tensor_rel from here

        dit = check_dit.run(a.dit, dtype)
        print(check_dit.summary(dit), file=sys.stderr)
        result.update({f"dit_{k}": v for k, v in dit.items()})
        result["pass"] = result["pass"] and dit["pass"]
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
