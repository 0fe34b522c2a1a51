"""Role-aware attention in PyTorch: a dense boolean mask everywhere, FlexAttention with
a BlockMask built from the same (doc, role) rule where torch has it (CUDA, torch >= 2.5).

The dense path is the reference: the engine's block-sparse kernels compute exactly the
element rule (src/engine/reference/attention.ts), and so does this. A query row with no
allowed key gives zeros, as in the engine.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch

from .roles import PRTS_RULE, dense_mask

try:  # torch >= 2.5
    from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

    HAS_FLEX = True
except Exception:  # pragma: no cover - depends on the torch build
    BlockMask = None  # type: ignore
    HAS_FLEX = False

HAS_SDPA = hasattr(torch.nn.functional, "scaled_dot_product_attention")  # torch >= 2.0


class CausalSdpa:
    """Plain causal attention over the whole packed sequence with SDPA, ignoring documents
    and roles: not PRTS's mask, the conventional baseline a benchmark compares against."""


Mask = Union[torch.Tensor, "BlockMask", CausalSdpa]


_compiled_flex = None


def _flex():
    """flex_attention compiled once: eager flex_attention materialises the scores and is slow."""
    global _compiled_flex
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention, dynamic=False)
    return _compiled_flex


def flex_block_mask(docs: torch.Tensor, roles: torch.Tensor, block_size: int = 128) -> "BlockMask":
    """FlexAttention's BlockMask from the same element rule (empty / full / partial blocks)."""
    if not HAS_FLEX:
        raise RuntimeError("this torch has no FlexAttention (torch >= 2.5 is needed)")
    rule = PRTS_RULE.to(docs.device)
    d = docs.long()
    r = roles.long()

    def mask_mod(b, h, q, k):
        return (k <= q) & (d[q] == d[k]) & rule[r[q], r[k]]

    n = docs.shape[0]
    return create_block_mask(mask_mod, B=None, H=None, Q_LEN=n, KV_LEN=n, device=docs.device, BLOCK_SIZE=block_size)


def build_mask(docs: torch.Tensor, roles: torch.Tensor, tile: int = 32, impl: str = "auto") -> Mask:
    """impl 'dense' (a [n, n] bool), 'flex' (a BlockMask), 'sdpa_causal' (the baseline, not
    PRTS's rule) or 'auto' (flex on CUDA when available, else dense)."""
    if impl == "sdpa_causal":
        if not HAS_SDPA:
            raise RuntimeError("this torch has no scaled_dot_product_attention (torch >= 2.0 is needed)")
        return CausalSdpa()
    if impl not in ("auto", "dense", "flex"):
        raise ValueError(f"attention impl must be auto, dense, flex or sdpa_causal, got {impl!r}")
    if impl == "flex" or (impl == "auto" and HAS_FLEX and docs.is_cuda):
        return flex_block_mask(docs, roles)
    return dense_mask(docs, roles)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Mask) -> torch.Tensor:
    """q, k, v [n, H, D] -> [n, H, D]; scale 1/sqrt(D)."""
    n, H, D = q.shape
    if isinstance(mask, CausalSdpa):
        qh, kh, vh = (x.permute(1, 0, 2).unsqueeze(0) for x in (q, k, v))
        return torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, is_causal=True).squeeze(0).permute(1, 0, 2)
    if HAS_FLEX and BlockMask is not None and isinstance(mask, BlockMask):
        qh, kh, vh = (x.permute(1, 0, 2).unsqueeze(0) for x in (q, k, v))
        return _flex()(qh, kh, vh, block_mask=mask).squeeze(0).permute(1, 0, 2)
    scores = torch.einsum("ihd,jhd->hij", q, k) * (1.0 / math.sqrt(D))
    scores = scores.masked_fill(~mask[None], float("-inf"))
    any_key = mask.any(dim=1)
    # A row with no allowed key would be softmax over nothing (NaN); it gives zeros instead.
    scores = torch.where(any_key[None, :, None], scores, torch.zeros((), dtype=scores.dtype, device=scores.device))
    p = torch.softmax(scores, dim=-1) * any_key[None, :, None]
    return torch.einsum("hij,jhd->ihd", p, v)
