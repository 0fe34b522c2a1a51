"""Pre-training in PyTorch from the workbench's batch shards, on one process or many
under torchrun (DDP: gloo on CPU, NCCL on GPU).

    python -m prts_torch.train --shards DIR --out RUN [--steps N] [--accum A]
    torchrun --nproc_per_node N -m prts_torch.train --shards DIR --out RUN ...

Starts from DIR/init (the workbench checkpoint `npm run export-shards` wrote), or resumes
RUN's latest checkpoint with --resume. The global batch of a step is world x accum shards,
taken in stream order (rank r of step s reads shard (s * world * accum) + a * world + r for
micro-step a); gradients are averaged over them, so N processes with accum A match one
process with accum N x A. With world x accum = 1 a step is exactly a workbench step, and
the run's checkpoints resume in `npm run train` and open in every tab (same tensor names,
same optimizer state, same manifest).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.distributed as dist

from . import checkpoint as ckpt
from .model import PrtsModel, config_from_workbench
from .optim import Schedule, lr_at, workbench_adamw
from .threads import set_cpu_threads
from .shards import ShardError, list_shards, load_shard, read_index


# Loss terms a step logs (averaged over micro-batches and ranks).
LOGGED = ("total", "bc", "sal", "lsa", "accuracy", "grounding", "grounding_accuracy")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def setup_distributed(device_arg: str):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device_arg == "auto":
        device_arg = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(f"cuda:{local}" if device_arg == "cuda" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return world, rank, device


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", required=True, help="directory written by npm run export-shards")
    ap.add_argument("--out", required=True, help="run directory (workbench checkpoint layout)")
    ap.add_argument("--init", help="starting checkpoint (default <shards>/init)")
    ap.add_argument("--steps", type=int, help="optimizer steps (default: as many as the shards allow)")
    ap.add_argument("--accum", type=int, help="micro-batches (shards) per rank per step (default: the config's train.accumulate divided over the processes; 1 where the config does not set it)")
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--keep", type=int, default=2, help="step directories to keep")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, help="torch CPU threads per process")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="parameter and compute precision (float64: exact comparisons in tests)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (torch >= 2)")
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--cycle", action="store_true", help="reuse the shards from the start when they run out (otherwise the run stops there)")
    a = ap.parse_args(argv)
    if (a.accum is not None and a.accum < 1) or a.checkpoint_every < 1:
        ap.error("--accum and --checkpoint-every must be >= 1")
    threads = set_cpu_threads(a.threads) if a.threads else None

    world, rank, device = setup_distributed(a.device)
    try:
        index = read_index(a.shards)
        paths = list_shards(a.shards)
        if len(paths) != index["batches"]:
            raise ShardError(f"{a.shards}: shards.json lists {index['batches']} batches but {len(paths)} shard files are there")
        if a.resume:
            start_ck = ckpt.load(a.out)
        else:
            if os.path.exists(os.path.join(a.out, "latest.json")):
                raise SystemExit(f"prts_torch.train: {a.out} already holds a run (latest.json); pass --resume or choose another --out")
            start_ck = ckpt.load(a.init or os.path.join(a.shards, "init"))
        if start_ck.trainer.get("kind") != "pretrain":
            raise SystemExit("prts_torch.train: the starting checkpoint is a post-training one; the twin pre-trains from pre-training checkpoints")
        config = start_ck.config
        if a.accum is None:
            # A config that sets train.accumulate names the global number of batches per step
            # (the engine's), so N processes split it and a split that does not come out even
            # is refused. Without it each process takes one shard per step, as before.
            total = config["train"].get("accumulate")
            if total is None:
                a.accum = 1
            elif int(total) % world != 0:
                raise SystemExit(f"prts_torch.train: train.accumulate ({total}) is not a multiple of the {world} processes; pass --accum per process")
            else:
                a.accum = int(total) // world
        per_step = world * a.accum
        done = int(start_ck.trainer["step"])
        # Shards this run has consumed: the trainer's samplerStep counts stream batches, and
        # shard 0 is stream batch firstSamplerStep.
        consumed = int(start_ck.trainer["samplerStep"]) - int(index["firstSamplerStep"]) if a.resume else 0
        if consumed < 0:
            raise SystemExit(f"prts_torch.train: the checkpoint in {a.out} is at stream batch {start_ck.trainer['samplerStep']}, before these shards start ({index['firstSamplerStep']})")
        available = len(paths) - consumed
        steps_left = (a.steps - done) if a.steps else (available // per_step)
        if not a.cycle and steps_left * per_step > available:
            raise SystemExit(f"prts_torch.train: {steps_left} more steps of {per_step} shards need {steps_left * per_step} shards, {available} are left; export more or pass --cycle")
        planned = int(start_ck.trainer["steps"])
        if a.steps and a.steps > planned:
            planned = a.steps
        t = config["train"]
        sched = Schedule(lr=t["lr"], warmup=min(t["warmupSteps"], planned), steps=planned, min_ratio=t.get("minLrRatio", 0.1))

        model = PrtsModel(config_from_workbench(config, start_ck.vocab_size)).to(device=device, dtype=getattr(torch, a.dtype))
        model.load_named(start_ck.params)
        opt = workbench_adamw(model, t)
        if start_ck.optimizer_steps and any(start_ck.optimizer_steps.values()):
            opt.load_state_tensors({k: v.to(device=device, dtype=getattr(torch, a.dtype)) for k, v in start_ck.optimizer.items()}, start_ck.optimizer_steps)
        with_crl = bool(index["withCrl"])
        runner = model
        if world > 1:
            # Without CRL blocks the CRL heads get no gradient on any rank.
            runner = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=not with_crl or t["lambdaCrl"] == 0)
        if a.compile:
            runner = torch.compile(runner)
        metrics: List[dict] = list(start_ck.metrics)
        tokens_total = float(start_ck.trainer.get("tokens", 0))
        seconds_total = float(start_ck.trainer.get("seconds", 0))
        log(f"rank {rank}/{world} on {device}: {sum(p.numel() for p in model.parameters()):,} parameters, steps {done} -> {done + steps_left}, {per_step} shard(s) per step" + (f", threads {threads}" if threads else ""))

        def save(step: int) -> None:
            if rank != 0:
                return
            tensors, steps = opt.state_tensors()
            trainer = dict(start_ck.trainer)
            trainer.update({"step": step, "steps": planned, "samplerStep": int(index["firstSamplerStep"]) + consumed, "tokens": tokens_total, "seconds": seconds_total})
            out = ckpt.Checkpoint(
                config=config,
                tokenizers_json=start_ck.tokenizers_json,
                params={n: p.detach().float().cpu() for n, p in model.named().items()},
                optimizer={k: v.cpu() for k, v in tensors.items()},
                optimizer_steps=steps,
                trainer=trainer,
                metrics=metrics,
            )
            d = ckpt.save(a.out, out, keep=a.keep)
            log(f"checkpoint {d}")

        if rank == 0:
            os.makedirs(a.out, exist_ok=True)
        step = done
        last_saved = done if a.resume else -1
        for _ in range(steps_left):
            t0 = time.time()
            lr = lr_at(step, sched)
            opt.zero_grad()
            sums: Dict[str, float] = {}
            tokens = 0
            for micro in range(a.accum):
                k = (consumed + micro * world + rank) % len(paths)
                batch = load_shard(paths[k], device)
                tokens += int(index["tokens"][k])
                sync = micro == a.accum - 1 or world == 1
                ctx = runner.no_sync() if (world > 1 and not sync) else _null()
                with ctx:
                    out = runner(batch)
                    (out["total"] / a.accum).backward()
                for key in LOGGED:
                    if key in out:
                        sums[key] = sums.get(key, 0.0) + float(out[key]) / a.accum
            if world > 1:
                # Losses averaged over ranks for the log (gradients already are, by DDP).
                vals = torch.tensor([sums.get(k, float("nan")) for k in LOGGED] + [tokens], dtype=torch.float64, device=device)
                dist.all_reduce(vals)
                vals[: len(LOGGED)] /= world
                sums = {k: float(v) for k, v in zip(LOGGED, vals[: len(LOGGED)]) if not math.isnan(float(v))}
                tokens = int(vals[len(LOGGED)])
            opt.step(lr)
            consumed += per_step
            if not math.isfinite(sums["total"]):
                raise SystemExit(f"prts_torch.train: step {step}: the loss is {sums['total']}; lower train.lr or check the data")
            ms = (time.time() - t0) * 1000
            tokens_total += tokens
            seconds_total += ms / 1000
            scale = float(torch.clamp(torch.exp(model.p("crl.log_scale").detach()), max=model.cfg.max_scale))
            metrics.append({
                "step": step, "lr": lr, "total": sums["total"], "bc": sums["bc"], "saL": sums.get("sal"), "lSa": sums.get("lsa"),
                "lSaFloor": None, "accuracy": sums.get("accuracy"), "temperature": 1 / scale if "sal" in sums else None,
                **({"grounding": sums["grounding"], "groundingAccuracy": sums["grounding_accuracy"]} if "grounding" in sums else {}),
                "gradNorm": opt.last_grad_norm, "tokens": tokens, "packedTokens": 0, "samples": 0, "goals": 0,
                "ms": ms, "dataMs": 0, "tokensPerSec": tokens / (ms / 1000), "etaSec": 0, "engine": f"torch {torch.__version__} {device.type} x{world}",
            })
            step += 1
            if rank == 0 and (step % a.log_every == 0 or step == done + steps_left):
                crl = f" sa->l {sums['sal']:.4f} l->sa {sums['lsa']:.4f} acc {sums['accuracy']:.2f}" if "sal" in sums else ""
                if "grounding" in sums:
                    crl += f" grounding {sums['grounding']:.4f} acc {sums['grounding_accuracy']:.2f}"
                log(f"step {step} lr {lr:.2e} loss {sums['total']:.4f} bc {sums['bc']:.4f}{crl} |g| {opt.last_grad_norm:.3f} {ms:.0f} ms")
            if step % a.checkpoint_every == 0:
                save(step)
                last_saved = step
        if step != last_saved:
            save(step)
        if rank == 0:
            print(json.dumps({"steps": step, "final_loss": metrics[-1]["total"] if metrics else None, "world": world, "accum": a.accum, "device": str(device), "seconds": round(seconds_total, 1), "out": a.out}))
        return 0
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    sys.exit(main())
