"""CPU thread counts of a twin process.

Debian's python3-torch multiplies through the system BLAS, OpenBLAS, whose own pthread
pool ignores torch.set_num_threads. Beside another busy process on a 2-core machine its
idle threads spin, and a `--threads 1` run slowed from ~0.3 s to 1-3 s per step
(docs/results.md round 11). The pool is sized at run time through OpenBLAS's own entry
point, so it works whatever imported torch first.
"""
from __future__ import annotations

import ctypes
from typing import Dict, Optional

import torch

# The sonames Debian's torch resolves BLAS through (libblas.so.3 is the alternatives link).
_BLAS_LIBS = ("libblas.so.3", "libopenblas.so.0")


def _openblas() -> Optional[ctypes.CDLL]:
    for name in _BLAS_LIBS:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(lib, "openblas_set_num_threads") and hasattr(lib, "openblas_get_num_threads"):
            return lib
    return None


def set_cpu_threads(n: int) -> Dict[str, Optional[int]]:
    """Sets torch's intra-op threads and OpenBLAS's pool to n; returns what each reports now (openblas None: no OpenBLAS loaded)."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    lib = _openblas()
    if lib is not None:
        lib.openblas_set_num_threads(n)
    return {"torch": torch.get_num_threads(), "openblas": lib.openblas_get_num_threads() if lib is not None else None}
