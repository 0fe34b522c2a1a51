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


class DocBlocks:
    """The dense rule cut into one [L, L] block per document (L = the longest document),
    for packed batches whose documents are contiguous runs: a packed batch of B documents
    of length ~n/B then costs B * L^2 scores instead of n^2 (12x fewer at the cpu
    preset's batch of 12), which is what bounds the CPU path. The element rule, and so
    the result, is the dense mask's."""

    def __init__(self, docs: torch.Tensor, roles: torch.Tensor, rule: torch.Tensor = PRTS_RULE):
        n = docs.shape[0]
        change = torch.nonzero(docs[1:] != docs[:-1]).flatten() + 1
        zero = torch.zeros(1, dtype=change.dtype, device=docs.device)
        starts = torch.cat([zero, change])
        lens = torch.cat([change, torch.full_like(zero, n)]) - starts
        L = int(lens.max())
        ar = torch.arange(L, device=docs.device)
        self.valid = ar[None, :] < lens[:, None]  # [B, L]
        self.index = torch.where(self.valid, starts[:, None] + ar[None, :], torch.zeros_like(starts[:, None]))
        r = roles.long()[self.index]
        causal = ar[None, :] <= ar[:, None]
        allowed = rule.to(docs.device)[r[:, :, None], r[:, None, :]]
        self.mask = allowed & causal[None] & self.valid[:, None, :] & self.valid[:, :, None]  # [B, L, L]


def contiguous_docs(docs: torch.Tensor) -> bool:
    """Every document id appears as one run (so DocBlocks sees all of each document)."""
    if docs.shape[0] == 0:
        return False
    starts = torch.cat([torch.ones(1, dtype=torch.bool, device=docs.device), docs[1:] != docs[:-1]])
    return int(starts.sum()) == int(torch.unique(docs).numel())


Mask = Union[torch.Tensor, "BlockMask", CausalSdpa, DocBlocks]


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
    """impl 'dense' (a [n, n] bool), 'docs' (the same rule per document, DocBlocks), 'flex'
    (a BlockMask), 'sdpa_causal' (the baseline, not PRTS's rule) or 'auto' (flex on CUDA
    when available, else docs where the documents are contiguous runs, else dense)."""
    if impl == "sdpa_causal":
        if not HAS_SDPA:
            raise RuntimeError("this torch has no scaled_dot_product_attention (torch >= 2.0 is needed)")
        return CausalSdpa()
    if impl not in ("auto", "dense", "docs", "flex"):
        raise ValueError(f"attention impl must be auto, dense, docs, flex or sdpa_causal, got {impl!r}")
    if impl == "flex" or (impl == "auto" and HAS_FLEX and docs.is_cuda):
        return flex_block_mask(docs, roles)
    if impl == "docs" or (impl == "auto" and contiguous_docs(docs)):
        if not contiguous_docs(docs):
            raise ValueError("attention impl 'docs' needs every document to be one contiguous run of tokens")
        return DocBlocks(docs, roles)
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
    if isinstance(mask, DocBlocks):
        qb, kb, vb = q[mask.index], k[mask.index], v[mask.index]  # [B, L, H, D]
        scores = torch.einsum("bihd,bjhd->bhij", qb, kb) * (1.0 / math.sqrt(D))
        m = mask.mask[:, None]
        any_key = m.any(dim=-1, keepdim=True)
        scores = torch.where(m, scores, torch.full((), float("-inf"), dtype=scores.dtype, device=scores.device))
        scores = torch.where(any_key, scores, torch.zeros((), dtype=scores.dtype, device=scores.device))
        p = torch.softmax(scores, dim=-1) * any_key
        # Documents are contiguous and in order, so the valid rows are rows 0..n-1.
        return torch.einsum("bhij,bjhd->bihd", p, vb)[mask.valid]
    scores = torch.einsum("ihd,jhd->hij", q, k) * (1.0 / math.sqrt(D))
    scores = scores.masked_fill(~mask[None], float("-inf"))
    any_key = mask.any(dim=1)
    # A row with no allowed key would be softmax over nothing (NaN); it gives zeros instead.
    scores = torch.where(any_key[None, :, None], scores, torch.zeros((), dtype=scores.dtype, device=scores.device))
    p = torch.softmax(scores, dim=-1) * any_key[None, :, None]
    return torch.einsum("hij,jhd->ihd", p, v)
