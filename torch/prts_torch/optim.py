"""AdamW, global-norm clipping and the learning-rate schedule of the workbench
(src/engine/optim.ts, src/engine/reference/optim.ts, src/train/schedule.ts).

Written out rather than torch.optim.AdamW because the engine's clip scale is
min(1, max / (norm + 1e-6)) applied to the gradient before the moments, its decay is
p (1 - lr wd), its step counts are per parameter and saved by name, and parity needs
the same arithmetic, not an equivalent one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterable, Mapping, Optional, Tuple

import torch


@dataclass
class Schedule:
    lr: float
    warmup: int
    steps: int
    min_ratio: float = 0.1


def lr_at(step: int, s: Schedule) -> float:
    """Linear warmup to lr, cosine to min_ratio * lr at step `steps - 1`, then flat."""
    floor = s.lr * s.min_ratio
    if step < s.warmup:
        return s.lr * (step + 1) / s.warmup
    span = s.steps - 1 - s.warmup
    p = min(1.0, (step - s.warmup) / span) if span > 0 else (1.0 if step > s.warmup else 0.0)
    return floor + (s.lr - floor) * 0.5 * (1 + math.cos(math.pi * p))


class AdamW:
    """params: name -> (parameter, weight decay)."""

    def __init__(self, params: Mapping[str, Tuple[torch.nn.Parameter, float]], betas=(0.9, 0.95), eps: float = 1e-8, max_grad_norm: float = 0.0):
        self.params = dict(params)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.max_grad_norm = max_grad_norm
        self.m: Dict[str, torch.Tensor] = {n: torch.zeros_like(p, memory_format=torch.contiguous_format) for n, (p, _) in self.params.items()}
        self.v: Dict[str, torch.Tensor] = {n: torch.zeros_like(p, memory_format=torch.contiguous_format) for n, (p, _) in self.params.items()}
        self.steps: Dict[str, int] = {n: 0 for n in self.params}
        self.last_grad_norm: Optional[float] = None

    def grad_norm(self) -> torch.Tensor:
        sq = [p.grad.detach().to(torch.float64).pow(2).sum() for p, _ in self.params.values() if p.grad is not None]
        return torch.sqrt(torch.stack(sq).sum()) if sq else torch.zeros((), dtype=torch.float64)

    @torch.no_grad()
    def step(self, lr: float) -> None:
        norm = self.grad_norm()
        self.last_grad_norm = float(norm)
        clip = min(1.0, self.max_grad_norm / (float(norm) + 1e-6)) if self.max_grad_norm > 0 else 1.0
        for name, (p, wd) in self.params.items():
            if p.grad is None:
                continue  # no gradient: left alone, its step count does not advance (torch's rule too)
            self.steps[name] += 1
            k = self.steps[name]
            g = p.grad * clip
            m, v = self.m[name], self.v[name]
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            bc1 = 1 - self.beta1**k
            bc2 = 1 - self.beta2**k
            p.mul_(1 - lr * wd)
            p.sub_(lr * (m / bc1) / ((v / bc2).sqrt() + self.eps))

    def zero_grad(self) -> None:
        for p, _ in self.params.values():
            p.grad = None

    # Checkpoint form: "exp_avg.<name>", "exp_avg_sq.<name>" and the per-name steps.
    def state_tensors(self) -> Tuple[Dict[str, torch.Tensor], Dict[str, int]]:
        t: Dict[str, torch.Tensor] = {}
        for n in self.params:
            t[f"exp_avg.{n}"] = self.m[n].detach().float()
            t[f"exp_avg_sq.{n}"] = self.v[n].detach().float()
        return t, dict(self.steps)

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor], steps: Mapping[str, int]) -> None:
        for n, (p, _) in self.params.items():
            for key, dst in ((f"exp_avg.{n}", self.m), (f"exp_avg_sq.{n}", self.v)):
                if key not in tensors:
                    raise ValueError(f"optimizer state has no '{key}'")
                if tuple(tensors[key].shape) != tuple(p.shape):
                    raise ValueError(f"optimizer state '{key}' has shape {list(tensors[key].shape)}, the parameter {list(p.shape)}")
                dst[n] = tensors[key].to(p.dtype).to(p.device).clone()
            self.steps[n] = int(steps.get(n, 0))


def workbench_adamw(model, train_cfg: Mapping, names: Optional[Iterable[str]] = None) -> AdamW:
    """The pre-training optimizer of src/train/pretrain.ts: decayed matrices, AdamW (0.9, 0.95), eps 1e-8."""
    named = model.named()
    chosen = list(names) if names is not None else list(named)
    groups = {n: (named[n], train_cfg["weightDecay"] if model.decayed(n) else 0.0) for n in chosen}
    return AdamW(groups, betas=(0.9, 0.95), eps=1e-8, max_grad_norm=train_cfg["gradClip"])
