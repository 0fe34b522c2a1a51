"""Property check of the per-document attention path (DocBlocks) against the dense mask,
the reference: random packed layouts (1-6 documents of 1-40 tokens, random roles), float64, outputs and the gradients of q, k and v.
Prints one JSON line; exit status 1 when a layout disagrees."""
from __future__ import annotations

import argparse
import json
import sys

import torch

from . import attention as A


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.check_attention", description=__doc__)
    ap.add_argument("--layouts", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    g = torch.Generator().manual_seed(a.seed)
    worst = 0.0
    picked_docs = 0
    for _ in range(a.layouts):
        lens = torch.randint(1, 41, (int(torch.randint(1, 7, (1,), generator=g)),), generator=g)
        docs = torch.cat([torch.full((int(l),), i) for i, l in enumerate(lens)])
        roles = torch.randint(0, 5, (docs.shape[0],), generator=g)
        n = docs.shape[0]
        q, k, v = (torch.randn(n, 2, 8, dtype=torch.float64, generator=g).requires_grad_() for _ in range(3))
        dense = A.build_mask(docs, roles, impl="dense")
        blocks = A.build_mask(docs, roles, impl="auto")
        picked_docs += isinstance(blocks, A.DocBlocks)
        outs = []
        for m in (dense, blocks):
            o = A.attention(q, k, v, m)
            outs.append((o, *torch.autograd.grad((o * o).sum(), (q, k, v))))
        worst = max(worst, *[float((x - y).abs().max()) for x, y in zip(*outs)])
    # A document split into two runs cannot be cut into blocks: auto falls back to dense.
    split = torch.tensor([0, 0, 1, 1, 0])
    fallback = isinstance(A.build_mask(split, torch.zeros(5, dtype=torch.long)), torch.Tensor)
    ok = worst < 1e-12 and picked_docs == a.layouts and fallback
    print(json.dumps({"check_attention": True, "pass": ok, "layouts": a.layouts, "max_abs_diff": worst, "auto_picked_docs": picked_docs, "split_document_falls_back_to_dense": fallback}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
