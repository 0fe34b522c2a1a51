"""Workbench checkpoint directories (src/train/checkpoint.ts), read and written the same way:

  <run>/latest.json            {"dir": "step-00000200", "step": 200}, replaced atomically
  <run>/step-00000200/         model.safetensors, optimizer.safetensors, config.json,
                               tokenizers.json, metrics.jsonl, [dit.json,
                               posttrain-metrics.jsonl], trainer.json (written last, with
                               the byte size and FNV-1a hash of every other file)

so a checkpoint the twin writes opens in the Value, Embeddings and Sim tabs, resumes in
`npm run train`, and `npm run eval` evaluates it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from typing import Dict, List, Mapping, Optional

import torch

from . import safetensors_io as st

REQUIRED = ["model.safetensors", "optimizer.safetensors", "config.json", "tokenizers.json", "metrics.jsonl"]
OPTIONAL = ["dit.json", "posttrain-metrics.jsonl"]


class CheckpointError(ValueError):
    pass


def fnv1a(data: bytes) -> str:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return f"{h:08x}"


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def resolve(path: str) -> str:
    """A run directory (follows latest.json) or a step directory."""
    latest = os.path.join(path, "latest.json")
    if os.path.exists(latest):
        with open(latest) as f:
            d = json.load(f).get("dir")
        if not isinstance(d, str) or not re.fullmatch(r"step-\d{8}", d):
            raise CheckpointError(f"{latest}: field 'dir' must name a step directory, got {d!r}")
        return os.path.join(path, d)
    if os.path.exists(os.path.join(path, "trainer.json")):
        return path
    raise CheckpointError(f"{path}: no latest.json and no trainer.json; not a checkpoint or run directory")


class Checkpoint:
    def __init__(self, config: dict, tokenizers_json: bytes, params: Dict[str, torch.Tensor], optimizer: Dict[str, torch.Tensor], optimizer_steps: Dict[str, int], trainer: dict, metrics: List[dict], dit: Optional[dict] = None, post_metrics: Optional[List[dict]] = None):
        self.config = config
        self.tokenizers_json = tokenizers_json
        self.params = params
        self.optimizer = optimizer
        self.optimizer_steps = optimizer_steps
        self.trainer = trainer
        self.metrics = metrics
        self.dit = dit
        self.post_metrics = post_metrics

    @property
    def vocab_size(self) -> int:
        return int(self.params["backbone.embed"].shape[0])


def _jsonl(data: bytes, what: str) -> List[dict]:
    out = []
    for i, line in enumerate(data.decode("utf-8").split("\n")):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise CheckpointError(f"{what} line {i + 1}: {e}") from None
    return out


def load(path: str) -> Checkpoint:
    root = resolve(path)
    with open(os.path.join(root, "trainer.json"), "rb") as f:
        trainer = json.loads(f.read())
    if trainer.get("type") != "prts-trainer" or trainer.get("version") != 1:
        raise CheckpointError(f"{root}/trainer.json: type {trainer.get('type')!r} version {trainer.get('version')!r}; expected 'prts-trainer' version 1")
    files = trainer.pop("files", None)
    if not isinstance(files, dict):
        raise CheckpointError(f"{root}/trainer.json has no 'files' manifest")
    blobs: Dict[str, bytes] = {}
    for name in REQUIRED + [f for f in OPTIONAL if f in files]:
        p = os.path.join(root, name)
        if not os.path.exists(p):
            raise CheckpointError(f"{p} is missing")
        with open(p, "rb") as f:
            b = f.read()
        want = files.get(name)
        if want is None:
            raise CheckpointError(f"the manifest in {root}/trainer.json does not list {name}")
        if len(b) != want["bytes"]:
            raise CheckpointError(f"{p} has {len(b)} bytes, the manifest says {want['bytes']} (truncated or replaced)")
        if fnv1a(b) != want["fnv1a"]:
            raise CheckpointError(f"{p} is corrupted (FNV-1a {fnv1a(b)}, the manifest says {want['fnv1a']})")
        blobs[name] = b
    params, _ = st.decode(blobs["model.safetensors"], os.path.join(root, "model.safetensors"))
    optim, meta = st.decode(blobs["optimizer.safetensors"], os.path.join(root, "optimizer.safetensors"))
    steps = json.loads(meta.get("steps", "null") or "null")
    if not isinstance(steps, dict):
        raise CheckpointError(f"{root}/optimizer.safetensors has no 'steps' metadata")
    return Checkpoint(
        config=json.loads(blobs["config.json"]),
        tokenizers_json=blobs["tokenizers.json"],
        params=params,
        optimizer=optim,
        optimizer_steps={k: int(v) for k, v in steps.items()},
        trainer=trainer,
        metrics=_jsonl(blobs["metrics.jsonl"], "metrics.jsonl"),
        dit=json.loads(blobs["dit.json"]) if "dit.json" in blobs else None,
        post_metrics=_jsonl(blobs["posttrain-metrics.jsonl"], "posttrain-metrics.jsonl") if "posttrain-metrics.jsonl" in blobs else None,
    )


def save(run_dir: str, ck: Checkpoint, keep: int = 2) -> str:
    """Writes one step directory atomically file by file, then trainer.json, then latest.json; prunes old steps."""
    step = int(ck.trainer["step"])
    name = step_dir_name(step)
    d = os.path.join(run_dir, name)
    os.makedirs(d, exist_ok=True)
    files: Dict[str, bytes] = {
        "model.safetensors": st.encode(ck.params, {"format": "prts-model", "step": str(step)}),
        "optimizer.safetensors": st.encode(ck.optimizer, {"format": "prts-adamw", "steps": json.dumps(ck.optimizer_steps, separators=(",", ":"))}),
        "config.json": (json.dumps(ck.config, indent=2) + "\n").encode(),
        "tokenizers.json": ck.tokenizers_json,
        "metrics.jsonl": "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in ck.metrics).encode(),
    }
    if ck.dit is not None:
        files["dit.json"] = (json.dumps(ck.dit, indent=2) + "\n").encode()
    if ck.post_metrics is not None:
        files["posttrain-metrics.jsonl"] = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in ck.post_metrics).encode()
    manifest = dict(ck.trainer)
    manifest["files"] = {}
    for fname, blob in files.items():
        st.write_atomic(os.path.join(d, fname), blob)
        manifest["files"][fname] = {"bytes": len(blob), "fnv1a": fnv1a(blob)}
    st.write_atomic(os.path.join(d, "trainer.json"), (json.dumps(manifest, indent=2) + "\n").encode())
    st.write_atomic(os.path.join(run_dir, "latest.json"), (json.dumps({"dir": name, "step": step}, separators=(",", ":")) + "\n").encode())
    olds = sorted(x for x in os.listdir(run_dir) if re.fullmatch(r"step-\d{8}", x) and x != name)
    for x in olds[: max(0, len(olds) - (keep - 1))]:
        shutil.rmtree(os.path.join(run_dir, x), ignore_errors=True)
    return d
