"""Compare the parameters (and optimizer moments) of two workbench checkpoints.

    python -m prts_torch.compare A B   ->  one JSON line: the largest relative difference per
    tensor family, relative to each tensor's largest magnitude, and the worst tensor.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import checkpoint as ckpt
from .check import tensor_rel


def compare(a: str, b: str) -> dict:
    x, y = ckpt.load(a), ckpt.load(b)
    if set(x.params) != set(y.params):
        raise SystemExit(f"the checkpoints hold different parameters: {sorted(set(x.params) ^ set(y.params))[:5]}")
    params = {n: tensor_rel(x.params[n], y.params[n]) for n in x.params}
    moments = {n: tensor_rel(x.optimizer[n], y.optimizer[n]) for n in x.optimizer if n in y.optimizer}
    pw = max(params.items(), key=lambda kv: kv[1])
    mw = max(moments.items(), key=lambda kv: kv[1]) if moments else ("", 0.0)
    return {
        "param_rel_max": float(f"{pw[1]:.3g}"),
        "param_worst": pw[0],
        "moment_rel_max": float(f"{mw[1]:.3g}"),
        "moment_worst": mw[0],
        "steps": [x.trainer["step"], y.trainer["step"]],
        "sampler_steps": [x.trainer["samplerStep"], y.trainer["samplerStep"]],
        "optimizer_steps_equal": x.optimizer_steps == y.optimizer_steps,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="prts_torch.compare", description=__doc__)
    ap.add_argument("a")
    ap.add_argument("b")
    a = ap.parse_args(argv)
    print(json.dumps(compare(a.a, a.b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
