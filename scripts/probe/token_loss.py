"""Where in a FAST chunk a policy's BC loss sits (docs/results.md round 7, issue 10).

Teacher-forced cross-entropy of every target token of a pre-trained checkpoint, grouped by
the token's index within its action segment, on batches written by `npm run export-shards`,
and the data's own entropy of the first two tokens (what a model that ignores the
observation would score). A loss on token k equal to that entropy means the model learned
only the token's marginal.

  npm run export-shards -- --data data/reach-shared360 --config p4-ff.json --out shards/ff40 --batches 40
  PYTHONPATH=torch /usr/bin/python3 scripts/probe/token_loss.py --run runs/p4 --shards shards/ff40
The last line is JSON.
"""
import argparse
import collections
import json
import math

import torch
import torch.nn.functional as F

from prts_torch import checkpoint as ckpt
from prts_torch.model import PrtsModel, config_from_workbench
from prts_torch.shards import list_shards, load_shard


def entropy(counter):
    n = sum(counter.values())
    return -sum(v / n * math.log(v / n) for v in counter.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="workbench run directory or checkpoint")
    ap.add_argument("--shards", required=True, help="directory written by npm run export-shards")
    args = ap.parse_args()
    ck = ckpt.load(args.run)
    model = PrtsModel(config_from_workbench(ck.config, ck.vocab_size))
    model.load_named(ck.params)
    sums, counts = collections.Counter(), collections.Counter()
    first, pair = collections.Counter(), collections.Counter()
    with torch.no_grad():
        for path in list_shards(args.shards):
            b = load_shard(path)
            ti = b["target_indices"].long()
            targets = b["targets"].long()
            ce = F.cross_entropy(model.hidden(b)[ti] @ model.p("lm_head.w"), targets, reduction="none")
            docs = b["docs"].long()[ti]
            # A target starts a new action segment unless it directly follows one of the same document.
            starts = torch.ones(len(ti), dtype=torch.bool)
            starts[1:] = ~((docs[1:] == docs[:-1]) & (ti[1:] == ti[:-1] + 1))
            k = 0
            for i in range(len(ti)):
                k = 0 if starts[i] else k + 1
                sums[k] += float(ce[i])
                counts[k] += 1
                if k == 0:
                    first[int(targets[i])] += 1
                    if i + 1 < len(ti) and not starts[i + 1]:
                        pair[(int(targets[i]), int(targets[i + 1]))] += 1
    by_pos = {k: round(sums[k] / counts[k], 3) for k in sorted(counts) if counts[k] >= 20}
    for k, v in by_pos.items():
        print(f"token {k:2d}  cross-entropy {v:.3f}  ({counts[k]} targets)")
    print(json.dumps({
        "run": args.run, "segments": counts[0], "ce_by_position": by_pos,
        "distinct_token0": len(first), "entropy_token0": round(entropy(first), 3),
        "entropy_token1_given_token0": round(entropy(pair) - entropy(first), 3),
    }))


if __name__ == "__main__":
    main()
