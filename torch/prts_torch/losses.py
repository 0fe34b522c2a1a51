"""Losses of the twin (src/engine/ops/xent.ts, infonce.ts; references in src/engine/reference).

InfoNCE follows src/engine/reference/infonce.ts term by term: logits = min(exp(s), max)
phi psi^T, temporal weights gamma^(T - t), L_sa->l normalised by the weight sum (or the
batch), L_l->sa averaged over goals with samples (or weighted by sample counts).
"""
from __future__ import annotations

from typing import Dict

import torch


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean NLL over rows whose target is in [0, V); 0 when there is none."""
    V = logits.shape[-1]
    valid = (targets >= 0) & (targets < V)
    if not bool(valid.any()):
        return logits.sum() * 0
    lse = torch.logsumexp(logits[valid], dim=-1)
    picked = logits[valid].gather(1, targets[valid][:, None]).squeeze(1)
    return (lse - picked).mean()


def info_nce(
    phi: torch.Tensor,
    psi: torch.Tensor,
    goal_of: torch.Tensor,
    t: torch.Tensor,
    T: torch.Tensor,
    gamma: float,
    log_scale: torch.Tensor,
    max_scale: float = 100.0,
    sal_normalization: str = "weightSum",
    lsa_reduction: str = "goals",
) -> Dict[str, torch.Tensor]:
    B, G = phi.shape[0], psi.shape[0]
    if sal_normalization not in ("weightSum", "batch"):
        raise ValueError(f"sal_normalization must be 'weightSum' or 'batch', got {sal_normalization!r}")
    if lsa_reduction not in ("goals", "samples"):
        raise ValueError(f"lsa_reduction must be 'goals' or 'samples', got {lsa_reduction!r}")
    scale = torch.clamp(torch.exp(log_scale), max=max_scale).reshape(())
    logits = scale * (phi @ psi.T)
    dt = torch.float64
    logw = (T.to(dt) - t.to(dt)) * torch.log(torch.tensor(gamma, dtype=dt))
    if sal_normalization == "weightSum":
        a = torch.softmax(logw, dim=0)
    else:
        a = torch.exp(logw) / B
    a = a.to(logits.dtype)
    onehot = torch.zeros(B, G, dtype=torch.bool, device=phi.device)
    onehot[torch.arange(B), goal_of] = True
    lse_row = torch.logsumexp(logits, dim=1)
    pos = logits[torch.arange(B), goal_of]
    sal = (a * (lse_row - pos)).sum()
    # Soft targets within each goal's column: q_i = w_i / sum of w over the goal's samples.
    count = torch.bincount(goal_of, minlength=G).to(dt)
    masked = torch.where(onehot, logw[:, None], torch.full((), float("-inf"), dtype=dt))
    q = torch.softmax(masked, dim=0)  # [B, G]; columns of empty goals are NaN, dropped below
    q = torch.where(onehot, q, torch.zeros((), dtype=dt)).sum(dim=1).to(logits.dtype)  # [B]
    active = (count > 0).sum()
    c = torch.where(count > 0, (count / B) if lsa_reduction == "samples" else 1.0 / active.to(dt), torch.zeros((), dtype=dt)).to(logits.dtype)
    lse_col = torch.logsumexp(logits, dim=0)  # [G]
    ce = torch.zeros(G, dtype=logits.dtype, device=phi.device).index_add(0, goal_of, q * (lse_col[goal_of] - pos))
    lsa = (c * ce).sum()
    with torch.no_grad():
        accuracy = (logits.argmax(dim=1) == goal_of).to(logits.dtype).mean()
    return {"sal": sal, "lsa": lsa, "logits": logits, "accuracy": accuracy}
