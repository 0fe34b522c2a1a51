"""Flow matching for the DiT action expert (src/model/flow.ts) and the post-training
context ranges (src/train/posttrain.ts contextRanges).

Conventions, as in the engine:
    tau = 1 is data, tau = 0 is noise;  a_tau = tau a + (1 - tau) eps,  eps ~ N(0, I)
    target velocity v = a - eps
    loss = sum(W * (v_pred - v)^2) with W from the validity mask:
      'perChannel' (default): W[b,h,k] = M[b,h,k] / (sum_h M[b,h,k]) / c_b / B_active
      'global':               W = M / sum(M)
    sampling: a_0 = eps, a_{tau + dt} = a_tau + dt v(a_tau, tau), `steps` Euler steps

tau and eps are drawn by the engine's own Rng (sampleTau, sampleNoise); the twin does
not reproduce that generator: a parity check reads the tau and eps the engine drew.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

from .roles import INSTRUCTION, ROLE_NAMES, VISION_STATE


def _check_mask(mask: torch.Tensor) -> None:
    if mask.dim() != 3:
        raise ValueError(f"flow: mask must be [B, H, K], got {list(mask.shape)}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("flow: the mask must be 0 or 1")


def loss_weights(mask: torch.Tensor, normalization: str = "perChannel") -> torch.Tensor:
    """Per-entry loss weights W [B, H, K] (float64), zero where the mask is 0 (flow.ts lossWeights)."""
    _check_mask(mask)
    m = mask.to(torch.float64)
    if normalization == "global":
        total = m.sum()
        if float(total) == 0:
            raise ValueError("flow: the mask has no valid entry, so the loss is undefined")
        return m / total
    if normalization != "perChannel":
        raise ValueError(f"flow: normalization must be 'perChannel' or 'global', got {normalization!r}")
    steps = m.sum(dim=1, keepdim=True)  # [B, 1, K] valid steps per channel
    c = (steps > 0).sum(dim=2, keepdim=True).to(torch.float64)  # [B, 1, 1] active channels
    active = int((c > 0).sum())
    if active == 0:
        raise ValueError("flow: the mask has no valid entry, so the loss is undefined")
    denom = steps * c * active
    return torch.where(m > 0, 1.0 / torch.where(denom > 0, denom, torch.ones_like(denom)), torch.zeros_like(m))


def flow_batch(actions: torch.Tensor, tau: torch.Tensor, eps: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(a_tau, v) for clean chunks a [B, H, K], flow times tau [B] and noise eps [B, H, K]."""
    t = tau.to(actions.dtype)[:, None, None]
    return t * actions + (1 - t) * eps, actions - eps


def flow_matching_loss(v_pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum(W * (v_pred - target)^2), a scalar."""
    if v_pred.shape != target.shape or v_pred.shape != weights.shape:
        raise ValueError(f"flow_matching_loss: v_pred {list(v_pred.shape)}, target {list(target.shape)} and weights {list(weights.shape)} must have one shape")
    return (weights.to(v_pred.dtype) * (v_pred - target).pow(2)).sum()


def context_ranges(roles: torch.Tensor, doc_start: torch.Tensor, doc_length: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each document's DiT context (posttrain.ts contextRanges): its leading run of
    VISION_STATE and INSTRUCTION tokens, [start[b], end[b]) in the packed batch."""
    r = roles.tolist()
    starts, ends = [], []
    for b, (s, n) in enumerate(zip(doc_start.tolist(), doc_length.tolist())):
        stop = s + n
        e = s
        while e < stop and r[e] in (VISION_STATE, INSTRUCTION):
            e += 1
        if e == s:
            name = ROLE_NAMES[r[s]] if 0 <= r[s] < len(ROLE_NAMES) else r[s]
            raise ValueError(f"contextRanges: document {b} starts with a {name} token; it has no vision/state/instruction context")
        for i in range(e, stop):
            if r[i] in (VISION_STATE, INSTRUCTION):
                raise ValueError(f"contextRanges: document {b} has a context token at {i - s}, after its action span began at {e - s}")
        starts.append(s)
        ends.append(e)
    return torch.tensor(starts, dtype=torch.int32), torch.tensor(ends, dtype=torch.int32)


@torch.no_grad()
def euler_sample(
    dit,
    noise: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
    hidden: Optional[torch.Tensor] = None,
    start: Optional[torch.Tensor] = None,
    end: Optional[torch.Tensor] = None,
    steps: int = 5,
) -> torch.Tensor:
    """flow.ts eulerSample / posttrain.ts sampleActions: from a_0 = noise (tau = 0) to tau = 1
    in `steps` Euler steps; the context is projected once; padded entries of the result are 0.
    tau of step s is s / steps rounded to float32, as the engine passes it."""
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"euler_sample: steps must be a positive integer, got {steps}")
    if mask is not None:
        _check_mask(mask)
    B = noise.shape[0]
    ctx = dit.prepare_context(hidden, start, end) if hidden is not None else None
    dt = 1.0 / steps
    a = noise
    for s in range(steps):
        tau = torch.full((B,), s * dt, dtype=torch.float32)
        a = a + dt * dit(a, tau, mask, context=ctx)
    if mask is not None:
        a = torch.where(mask > 0, a, torch.zeros_like(a))
    return a
