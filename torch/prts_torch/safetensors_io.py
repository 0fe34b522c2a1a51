"""safetensors read/write in plain Python (Debian has no `safetensors` wheel).

Writes the same bytes as src/train/safetensors.ts: tensors in name order, the JSON
header padded with spaces to a multiple of 8, little-endian data.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Tuple

import numpy as np
import torch

_TO_NP = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}
_FROM_TORCH = {torch.float32: "F32", torch.float64: "F32", torch.int32: "I32", torch.int64: "I32", torch.uint8: "U8", torch.bool: "U8"}


class SafetensorsError(ValueError):
    pass


def decode(data: bytes, what: str = "safetensors") -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    if len(data) < 8:
        raise SafetensorsError(f"{what}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SafetensorsError(f"{what}: header length {n} exceeds the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except ValueError as e:
        raise SafetensorsError(f"{what}: header is not valid JSON ({e})") from None
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out: Dict[str, torch.Tensor] = {}
    for name, info in header.items():
        dtype = info.get("dtype")
        if dtype == "BF16":
            raw = np.frombuffer(data, dtype=np.uint16, count=int(np.prod(info["shape"], dtype=np.int64)), offset=base + info["data_offsets"][0])
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        elif dtype in _TO_NP:
            b, e = info["data_offsets"]
            np_t = np.dtype(_TO_NP[dtype]).newbyteorder("<")
            count = int(np.prod(info["shape"], dtype=np.int64))
            if e - b != count * np_t.itemsize:
                raise SafetensorsError(f"{what}: tensor '{name}' has {e - b} bytes, shape {info['shape']} needs {count * np_t.itemsize}")
            arr = np.frombuffer(data, dtype=np_t, count=count, offset=base + b)
        else:
            raise SafetensorsError(f"{what}: tensor '{name}' has dtype {dtype}, which is not read")
        t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("="), copy=True)).reshape(info["shape"])
        if dtype in ("F16", "F64"):
            t = t.float()
        out[name] = t
    return out, {str(k): str(v) for k, v in meta.items()}


def load(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    with open(path, "rb") as f:
        return decode(f.read(), path)


def encode(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu()
        dtype = _FROM_TORCH.get(t.dtype)
        if dtype is None:
            raise SafetensorsError(f"tensor '{name}' has dtype {t.dtype}, which is not written")
        arr = t.contiguous().numpy().astype(np.dtype(_TO_NP[dtype]).newbyteorder("<"), copy=False)
        blob = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    js += b" " * ((-len(js)) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(blobs)


def write_atomic(path: str, data: bytes) -> None:
    """Temp file + rename, as the workbench's checkpoint writer does: a crash leaves the old file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
