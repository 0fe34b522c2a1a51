"""Batch shards written by `npm run export-shards` (src/twin/shards.ts): one packed batch
per safetensors file, `shard-000000.safetensors`, ... plus `shards.json`."""
from __future__ import annotations

import json
import os
from typing import Dict, Iterator, List

import torch

from . import safetensors_io as st

FORMAT = "prts-shard/1"


class ShardError(ValueError):
    pass


def load_shard(path: str, device: str | torch.device = "cpu") -> Dict[str, torch.Tensor]:
    tensors, meta = st.load(path)
    if meta.get("format") != FORMAT:
        raise ShardError(f"{path}: metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    for name in ("ids", "roles", "docs", "positions", "targets", "target_indices"):
        if name not in tensors:
            raise ShardError(f"{path}: tensor '{name}' is missing")
    out = {k: v.to(device) for k, v in tensors.items()}
    out["_meta"] = meta  # type: ignore[assignment]
    return out


def list_shards(directory: str) -> List[str]:
    names = sorted(f for f in os.listdir(directory) if f.startswith("shard-") and f.endswith(".safetensors"))
    if not names:
        raise ShardError(f"{directory}: no shard-*.safetensors files (run npm run export-shards)")
    return [os.path.join(directory, f) for f in names]


def read_index(directory: str) -> dict:
    p = os.path.join(directory, "shards.json")
    if not os.path.exists(p):
        raise ShardError(f"{directory}: shards.json is missing (run npm run export-shards)")
    with open(p) as f:
        return json.load(f)
