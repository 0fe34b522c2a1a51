"""Token roles and the role-aware attention rule (src/engine/roles.ts, DESIGN.md 3).

The rule is data: MAY_ATTEND[query_role][key_role]. The document and causal conditions
apply on top: query i may attend key j iff j <= i, doc[i] == doc[j] and the rule allows.
"""
from __future__ import annotations

import torch

VISION_STATE, INSTRUCTION, AR_ACTION, CRL_ACTION, CRL_GOAL = range(5)
ROLE_NAMES = ("VISION_STATE", "INSTRUCTION", "AR_ACTION", "CRL_ACTION", "CRL_GOAL")

_ALLOWED = {
    VISION_STATE: (VISION_STATE, INSTRUCTION, AR_ACTION),
    INSTRUCTION: (VISION_STATE, INSTRUCTION, AR_ACTION),
    AR_ACTION: (VISION_STATE, INSTRUCTION, AR_ACTION),
    CRL_ACTION: (VISION_STATE, CRL_ACTION),
    CRL_GOAL: (CRL_GOAL,),
}

PRTS_RULE = torch.tensor([[k in _ALLOWED[q] for k in range(5)] for q in range(5)], dtype=torch.bool)


def dense_mask(docs: torch.Tensor, roles: torch.Tensor, rule: torch.Tensor = PRTS_RULE) -> torch.Tensor:
    """[n, n] boolean: query i may attend key j."""
    n = docs.shape[0]
    idx = torch.arange(n, device=docs.device)
    causal = idx[None, :] <= idx[:, None]
    same = docs[:, None] == docs[None, :]
    r = roles.long()
    allowed = rule.to(docs.device)[r[:, None], r[None, :]]
    return causal & same & allowed
