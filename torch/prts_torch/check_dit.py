"""The twin half of the DiT part of `npm run twin:check` (src/twin/check-dit.ts writes the
other half): one post-training step of the flow-matching action expert.

Who computes what. The workbench (Node) side ran the step through its own PostTrainRun /
PostTrainer and saved what the twin does not re-implement: the batch's DiT targets a
(the raw dataset actions normalised by the FAST tokenizer's quantile bounds and clip,
padded to K channels: posttrain.ts postTrainBatch / toDitActions), their validity mask,
and the flow draw (tau, eps) of the step's seeded Rng. From those and the checkpoint and
shard, this module computes in float64: the context ranges (flow.context_ranges, from
the shard's roles / doc_start / doc_length), a_tau and v, the loss weights, the
backbone's hidden states, the DiT's velocity, the flow-matching loss, every gradient
(the DiT's, and the backbone's unless it is frozen), the parameters after the AdamW step
from the checkpoint's moments (PostTrainer's optimizer: decayGroups, betas (0.9, 0.999),
eps 1e-8, the config's weight decay and clip, lr from the run's schedule) and a 5-step
Euler sample; it compares each with the engine's and ends with one JSON line. Exit 1 when
a tolerance is missed.

`--properties` runs property checks of the twin's DiT instead (no engine involved): the
velocity at init is exactly 0 (adaLN-Zero), masked (padded) entries of a_tau and of the
target change neither the loss nor any gradient, a sample's velocity does not depend on
other samples' context rows, a DiT without context (6 modulation pieces) also starts at 0,
and the two loss normalisations agree on a full mask.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict

import torch

from . import checkpoint as ckpt
from . import safetensors_io as st
from .check import rel, tensor_rel
from .dit import Dit, DitConfig, dit_config_from_json
from .flow import context_ranges, euler_sample, flow_batch, flow_matching_loss, loss_weights
from .model import PrtsModel, config_from_workbench
from .optim import AdamW, Schedule, lr_at
from .shards import load_shard

# loss, grad and param as in check.py; "update": the error of the AdamW step beyond the f32
# rounding of the engine's parameters, relative to the step's largest entry (update_error).
TOLERANCES = {"loss": 1e-5, "grad": 1e-4, "param": 1e-5, "update": 1e-3, "inputs": 1e-6, "velocity": 1e-5, "sample": 1e-4}


def update_error(before: torch.Tensor, got: torch.Tensor, want: torch.Tensor) -> float:
    """The error of an optimizer update beyond the f32 rounding of the engine's parameter:
    max(|got - want| - 2^-23 max(|before|, |want|), 0) relative to the largest |got - before|."""
    if want.numel() == 0:
        return 0.0
    want = want.to(torch.float64)
    got = got.detach().to(torch.float64)
    before = before.to(torch.float64)
    slack = torch.maximum(before.abs(), want.abs()) * 2.0**-23
    excess = float(((got - want).abs() - slack).clamp_min(0).max())
    scale = float((got - before).abs().max())
    return excess / scale if scale > 0 else excess


def posttrain_adamw(dit: Dit, model: PrtsModel, train_cfg, freeze_backbone: bool) -> AdamW:
    """PostTrainer's optimizer (src/train/posttrain.ts): decayGroups over the DiT's parameters
    and, unless frozen, the backbone's (every tensor of rank >= 2 decays, embeddings included),
    AdamW's default betas (0.9, 0.999) and eps 1e-8, the config's weight decay and clip."""
    wd = train_cfg["weightDecay"]
    groups = {n: (p, wd if p.dim() >= 2 else 0.0) for n, p in dit.named().items()}
    if not freeze_backbone:
        groups.update({n: (p, wd if p.dim() >= 2 else 0.0) for n, p in model.named().items() if n.startswith("backbone.")})
    return AdamW(groups, betas=(0.9, 0.999), eps=1e-8, max_grad_norm=train_cfg["gradClip"])


def run(directory: str, dtype: torch.dtype = torch.float64) -> Dict:
    """Recomputes the DiT check written under `directory`; returns the result (unprefixed)."""
    t0 = time.time()
    ck = ckpt.load(os.path.join(directory, "init"))
    if ck.dit is None:
        raise ValueError(f"{directory}/init has no dit.json; not a post-training checkpoint")
    exp_t, _ = st.load(os.path.join(directory, "expected.safetensors"))
    with open(os.path.join(directory, "expected.json")) as f:
        expected = json.load(f)
    freeze = bool(ck.trainer["freezeBackbone"])
    model = PrtsModel(config_from_workbench(ck.config, ck.vocab_size)).to(dtype)
    model.load_named(ck.params, strict=False)
    dit = Dit(dit_config_from_json(ck.dit)).to(dtype)
    dit.load_named(ck.params)
    shard = load_shard(os.path.join(directory, "shard-000000.safetensors"))

    # Inputs: what the twin derives itself, against what the engine used.
    start, end = context_ranges(shard["roles"], shard["doc_start"], shard["doc_length"])
    ranges_match = torch.equal(start, exp_t["context_start"].to(torch.int32)) and torch.equal(end, exp_t["context_end"].to(torch.int32))
    tau = exp_t["tau"]
    actions = exp_t["actions"].to(dtype)
    mask = exp_t["mask"]
    noisy, target = flow_batch(actions, tau, exp_t["eps"].to(dtype))
    weights = loss_weights(mask, expected["normalization"])
    inputs_rel = {
        "noisy": tensor_rel(noisy, exp_t["noisy"]),
        "target": tensor_rel(target, exp_t["target"]),
        "weights": tensor_rel(weights, exp_t["weights"]),
        "weights_global": tensor_rel(loss_weights(mask, "global"), exp_t["weights_global"]),
    }

    # The loss, its gradients and the velocity.
    if freeze:
        with torch.no_grad():
            hidden = model.hidden(shard)
    else:
        hidden = model.hidden(shard)
    maskd = mask.to(dtype)
    velocity = dit(noisy, tau, maskd, hidden, start, end)
    loss = flow_matching_loss(velocity, target, weights)
    loss.backward()
    loss_rel = rel(float(loss), expected["loss"])
    velocity_rel = tensor_rel(velocity, exp_t["velocity"])
    named = {**model.named(), **dit.named()}
    grad_rel = {}
    for name, p in named.items():
        want = exp_t.get(f"grad.{name}")
        if (want is None) != (p.grad is None):
            grad_rel[name] = float("inf")  # one side has a gradient, the other none
        elif want is not None:
            grad_rel[name] = tensor_rel(p.grad, want)
    extra = [k[5:] for k in exp_t if k.startswith("grad.") and k[5:] not in named]
    for name in extra:
        grad_rel[name] = float("inf")

    # The Euler sampler from the same parameters, on the engine's noise.
    sample = euler_sample(dit, exp_t["sample_noise"].to(dtype), maskd, hidden.detach(), start, end, steps=int(expected["samplingSteps"]))
    sample_rel = tensor_rel(sample, exp_t["sample"])

    # The AdamW step, from the checkpoint's moments, taken twice from the same parameters:
    # on the engine's gradients (the optimizer's arithmetic alone) and on the twin's own
    # (end to end, reported). Besides each parameter, its update (after - before) is
    # compared: one step moves a parameter by ~lr, far below the f32 tolerance of the
    # parameter itself, so only the update shows e.g. a missing weight decay.
    t = ck.trainer
    sched = Schedule(lr=t["lr"], warmup=min(t["warmup"], t["steps"]), steps=t["steps"], min_ratio=ck.config["train"].get("minLrRatio", 0.1))
    lr = lr_at(int(t["step"]), sched)
    lr_rel = rel(lr, expected["lr"])
    start_values = {n: p.detach().clone() for n, p in named.items()}
    own_grads = {n: p.grad for n, p in named.items()}

    def adamw_step(grads):
        with torch.no_grad():
            for n, p in named.items():
                p.copy_(start_values[n])
                p.grad = grads[n]
        opt = posttrain_adamw(dit, model, ck.config["train"], freeze)
        opt.load_state_tensors(ck.optimizer, ck.optimizer_steps)
        norm = float(opt.grad_norm())
        opt.step(lr)
        return opt, norm

    opt, _ = adamw_step({n: None if exp_t.get(f"grad.{n}") is None else exp_t[f"grad.{n}"].to(dtype).clone() for n in named})
    optimised = list(opt.params)
    after = lambda n: exp_t[f"after.{n}"]
    param_rel = {n: tensor_rel(opt.params[n][0], after(n)) for n in optimised}
    update_rel = {n: update_error(start_values[n], opt.params[n][0], after(n)) for n in optimised}
    for n in [k[6:] for k in exp_t if k.startswith("after.") and k[6:] not in opt.params]:
        param_rel[n] = update_rel[n] = float("inf")  # the engine optimised a parameter the twin does not
    opt2, own_norm = adamw_step(own_grads)
    e2e_rel = {n: tensor_rel(opt2.params[n][0], after(n)) for n in optimised}

    worst = lambda d: max(d.items(), key=lambda kv: kv[1]) if d else ("", 0.0)
    g_name, g_max = worst(grad_rel)
    p_name, p_max = worst(param_rel)
    e_name, e_max = worst(e2e_rel)
    u_name, u_max = worst(update_rel)
    i_name, i_max = worst(inputs_rel)
    grad_norm_rel = rel(own_norm, expected["gradNorm"])
    ok = (
        ranges_match
        and i_max <= TOLERANCES["inputs"]
        and max(loss_rel, lr_rel) <= TOLERANCES["loss"]
        and velocity_rel <= TOLERANCES["velocity"]
        and g_max <= TOLERANCES["grad"]
        and grad_norm_rel <= TOLERANCES["grad"]
        and p_max <= TOLERANCES["param"]
        and u_max <= TOLERANCES["update"]
        and sample_rel <= TOLERANCES["sample"]
    )
    r3 = lambda x: float(f"{x:.3g}")
    return {
        "pass": bool(ok),
        "loss": expected["loss"],
        "loss_rel": r3(loss_rel),
        "lr_rel": r3(lr_rel),
        "velocity_rel": r3(velocity_rel),
        "inputs_rel_max": r3(i_max),
        "inputs_worst": i_name,
        "context_ranges_match": bool(ranges_match),
        "grad_rel_max": r3(g_max),
        "grad_worst": g_name,
        "grad_norm_rel": r3(grad_norm_rel),
        "grads": len(grad_rel),
        "param_rel_max": r3(p_max),
        "param_worst": p_name,
        "update_rel_max": r3(u_max),
        "update_worst": u_name,
        "param_e2e_rel_max": r3(e_max),
        "param_e2e_worst": e_name,
        "sample_rel": r3(sample_rel),
        "step": int(t["step"]),
        "lr": lr,
        "freeze_backbone": freeze,
        "cross_layout": "dense" if expected["crossDense"] else "batched",
        "shape": expected["shape"],
        "context_length": expected["contextLength"],
        "dit_params": sum(p.numel() for p in dit.named().values()),
        "tolerances": TOLERANCES,
        "seconds": round(time.time() - t0, 1),
    }


# ---- properties of the twin's DiT (no engine) -------------------------------------------


def _random_setup(seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    cfg = DitConfig(d_model=16, heads=2, layers=2, horizon=3, action_dim=4, context_dim=8, mlp_hidden=32, time_freq_dim=8)
    B, n = 3, 17
    start = torch.tensor([0, 5, 11], dtype=torch.int32)
    end = torch.tensor([4, 11, 17], dtype=torch.int32)
    hidden = torch.randn((n, cfg.context_dim), generator=g, dtype=dtype)
    noisy = torch.randn((B, cfg.horizon, cfg.action_dim), generator=g, dtype=dtype)
    target = torch.randn((B, cfg.horizon, cfg.action_dim), generator=g, dtype=dtype)
    tau = torch.rand((B,), generator=g).to(torch.float32)
    mask = (torch.rand((B, cfg.horizon, cfg.action_dim), generator=g) < 0.7).to(dtype)
    mask[:, :, -1] = 0  # a padded channel
    mask[2, 2, :] = 0  # a padded step
    mask[0, 0, 0] = 1
    return cfg, g, dict(noisy=noisy, target=target, tau=tau, mask=mask, hidden=hidden, start=start, end=end)


def _perturbed(cfg: DitConfig, g: torch.Generator, dtype=torch.float64) -> Dit:
    """A DiT whose zero-initialised parameters are random too (every path carries signal)."""
    dit = Dit(cfg).to(dtype)
    with torch.no_grad():
        for p in dit.named().values():
            if not bool(p.any()):
                p.copy_(torch.randn(p.shape, generator=g, dtype=dtype) * (0.5 / p.shape[0] ** 0.5 if p.dim() >= 2 else 0.1))
    return dit


def _loss_and_grads(dit: Dit, x: Dict, hidden: torch.Tensor, normalization: str = "perChannel"):
    dit.zero_grad(set_to_none=True)
    h = hidden.clone().requires_grad_(True)
    v = dit(x["noisy"], x["tau"], x["mask"], h, x["start"], x["end"])
    loss = flow_matching_loss(v, x["target"], loss_weights(x["mask"], normalization))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in dit.named().items()}
    grads["<context>"] = h.grad.clone()
    return float(loss), grads, v.detach()


def properties() -> Dict:
    results: Dict[str, bool] = {}
    cfg, g, x = _random_setup()

    # adaLN-Zero: a freshly built DiT's velocity is exactly 0, whatever the inputs.
    fresh = Dit(cfg).to(torch.float64)
    v0 = fresh(x["noisy"], x["tau"], x["mask"], x["hidden"], x["start"], x["end"])
    results["velocity_zero_at_init"] = bool(torch.equal(v0, torch.zeros_like(v0)))
    # ... and so Euler sampling from it returns the (masked) noise.
    s0 = euler_sample(fresh, x["noisy"], x["mask"], x["hidden"], x["start"], x["end"], steps=5)
    results["sample_at_init_is_noise"] = bool(torch.equal(s0, x["noisy"] * x["mask"]))

    # Padded entries: other values of a_tau and of the target there change nothing.
    dit = _perturbed(cfg, g)
    for norm in ("perChannel", "global"):
        loss_a, grads_a, v_a = _loss_and_grads(dit, x, x["hidden"], norm)
        y = dict(x)
        junk = torch.randn(x["noisy"].shape, generator=g, dtype=torch.float64) * 100
        y["noisy"] = torch.where(x["mask"] > 0, x["noisy"], junk)
        y["target"] = torch.where(x["mask"] > 0, x["target"], -junk)
        loss_b, grads_b, v_b = _loss_and_grads(dit, y, x["hidden"], norm)
        results[f"padding_invariant_loss_{norm}"] = loss_a == loss_b
        results[f"padding_invariant_grads_{norm}"] = all(torch.equal(grads_a[n], grads_b[n]) for n in grads_a)
        results[f"padding_invariant_valid_velocity_{norm}"] = bool(torch.equal(v_a * x["mask"], v_b * x["mask"]))
    results["gradients_nonzero"] = all(bool(g_.any()) for g_ in grads_a.values())

    # Cross-attention stays inside a sample's context: other rows change nothing of it.
    with torch.no_grad():
        h2 = x["hidden"].clone()
        h2[x["start"][1] : x["end"][1]] += 5.0  # sample 1's rows only
        va = dit(x["noisy"], x["tau"], x["mask"], x["hidden"], x["start"], x["end"])
        vb = dit(x["noisy"], x["tau"], x["mask"], h2, x["start"], x["end"])
    results["context_per_sample"] = bool(torch.equal(va[0], vb[0]) and torch.equal(va[2], vb[2]) and not torch.equal(va[1], vb[1]))

    # Without context (contextDim 0: 6 modulation pieces, no cross-attention): still 0 at init.
    bare_cfg = DitConfig(**{**cfg.__dict__, "context_dim": 0})
    bare = Dit(bare_cfg).to(torch.float64)
    vb0 = bare(x["noisy"], x["tau"], x["mask"])
    results["no_context_velocity_zero_at_init"] = bool(torch.equal(vb0, torch.zeros_like(vb0))) and "dit.blocks.0.cross_attn.wq" not in bare.named() and tuple(bare.named()["dit.blocks.0.ada.w"].shape) == (16, 96)
    bare = _perturbed(bare_cfg, g)
    results["no_context_velocity_nonzero_when_perturbed"] = bool(bare(x["noisy"], x["tau"], x["mask"]).abs().min() > 0)

    # Loss weights: perChannel sums to 1 and equals global on a full mask.
    w = loss_weights(x["mask"])
    full = torch.ones_like(x["mask"])
    results["weights_sum_to_one"] = abs(float(w.sum()) - 1) < 1e-12 and abs(float(loss_weights(x["mask"], "global").sum()) - 1) < 1e-12
    results["weights_agree_on_full_mask"] = bool(torch.allclose(loss_weights(full), loss_weights(full, "global"), rtol=0, atol=1e-15))
    return {"dit_properties": True, "pass": all(results.values()), **results}


def summary(r: Dict) -> str:
    """One human line of run()'s result."""
    return (
        f"DiT ({r['cross_layout']} cross-attention, backbone {'frozen' if r['freeze_backbone'] else 'trained'}): loss {r['loss_rel']:.3g}, velocity {r['velocity_rel']:.3g}, "
        f"gradients: worst {r['grad_worst']} {r['grad_rel_max']:.3g}; after the AdamW step: worst {r['param_worst']} {r['param_rel_max']:.3g}, "
        f"its update {r['update_worst']} {r['update_rel_max']:.3g} (own gradients: {r['param_e2e_rel_max']:.3g}); Euler sample {r['sample_rel']:.3g}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.check_dit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", help="the directory src/twin/check-dit.ts wrote (npm run twin:check -- --out D: D/dit)")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--properties", action="store_true", help="run the property checks of the twin's DiT instead")
    a = ap.parse_args(argv)
    if a.properties:
        result = properties()
    else:
        if not a.dir:
            ap.error("--dir is required (or --properties)")
        result = {"twin_check_dit": True, **run(a.dir, getattr(torch, a.dtype))}
        print(summary(result), file=sys.stderr)
    print(json.dumps(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
