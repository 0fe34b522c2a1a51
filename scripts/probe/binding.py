"""Colour-binding probe (docs/results.md round 7, issue 10).

Can a model of the cpu preset's size, fed the workbench's image tokenisation, say where the
named block stands from one first frame? Each example is a scene's two camera images cut
into P x P patches (pixels + camera one-hot + patch-position one-hot, as model.patchPositions
does) followed by one colour token; a small causal transformer reads the colour token's
output and classifies which of the six 2 x 3 slots holds that colour's block. Chance is 1/6.
Train on scenes 48.. of the frames file, test on scenes 0-47 (never seen).

  node scripts/run.mjs scripts/probe/binding-frames.ts --states 0-999 --out scratch/probe/frames.bin
  /usr/bin/python3 scripts/probe/binding.py --frames scratch/probe/frames.bin --patch 4 --steps 2000
  [--layers 2] [--after 2] [--pool]   (fixed tokens after the colour, read from the last, as the
  policy reads its first action at <|action_start|>; --pool adds the mean of the colour and
  fixed tokens to the read token, as model.actionStartGoal does)
  [--labels t0.json --target slot|token0]   (only a dataset's scenes; token0: the policy's first
  FAST token as the target, token0-slot.ts --labels writes the file)
The last line is JSON.
"""
import argparse
import json

import numpy as np
import torch
import torch.nn as nn


def load(path):
    raw = open(path, "rb").read()
    nl = raw.index(b"\n")
    head = json.loads(raw[:nl])
    a, b = head["states"]
    n, s = b - a + 1, head["size"]
    body = np.frombuffer(raw[nl + 1 :], dtype=np.uint8)
    px = body[: n * 2 * s * s * 3].reshape(n, 2, s, s, 3)
    slots = body[n * 2 * s * s * 3 :].reshape(n, 6)
    return px, slots


def patchify(px, p):
    """[n, cams, S, S, 3] uint8 -> [n, cams * (S/p)^2, p*p*3 + cams + (S/p)^2] floats, row-major patches."""
    n, cams, s, _, _ = px.shape
    g = s // p
    x = torch.from_numpy(px.astype(np.float32) / 255.0).reshape(n, cams, g, p, g, p, 3).permute(0, 1, 2, 4, 3, 5, 6).reshape(n, cams, g * g, p * p * 3)
    cam = torch.eye(cams).reshape(1, cams, 1, cams).expand(n, cams, g * g, cams)
    pos = torch.eye(g * g).reshape(1, 1, g * g, g * g).expand(n, cams, g * g, g * g)
    return torch.cat([x, cam, pos], -1).reshape(n, cams * g * g, -1)


class Probe(nn.Module):
    def __init__(self, feat, d=64, layers=2, heads=2, after=0, pool=False, classes=6):
        super().__init__()
        self.patch = nn.Linear(feat, d)
        self.colour = nn.Embedding(6, d)
        # Fixed tokens after the colour ("block", <|action_start|>): the policy reads its
        # first action from such a token, which must first fetch the colour, one more hop.
        self.after = nn.Parameter(torch.randn(after, d) * 0.02)
        # model.actionStartGoal: the read token also gets the mean of the "instruction"
        # (colour + fixed tokens) embeddings, so its own query can name the colour.
        self.pool = pool
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers)
        self.out = nn.Linear(d, classes)

    def forward(self, patches, colour):
        tail = self.after[None].expand(len(colour), -1, -1)
        if self.pool and len(self.after) > 0:
            words = torch.cat([self.colour(colour)[:, None], tail[:, :-1]], 1)
            tail = torch.cat([tail[:, :-1], tail[:, -1:] + words.mean(1, keepdim=True)], 1)
        x = torch.cat([self.patch(patches), self.colour(colour)[:, None], tail], 1)
        n = x.shape[1]
        causal = torch.triu(torch.full((n, n), float("-inf")), 1)
        return self.out(self.body(x, mask=causal)[:, -1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", default="scratch/probe/frames.bin")
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--train", type=int, default=0, help="training scenes (default all from 48 on)")
    ap.add_argument("--test", type=int, default=48)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--after", type=int, default=0, help="fixed tokens after the colour token; the last one is read")
    ap.add_argument("--labels", help="episodes from token0-slot.ts --labels: train on those scenes and colours only")
    ap.add_argument("--target", default="slot", choices=["slot", "token0"], help="with --labels: the slot, or the policy's first FAST token")
    ap.add_argument("--test-states", type=int, default=40, help="with --labels: the last this many states are held out")
    ap.add_argument("--pool", action="store_true", help="add the mean of the colour and the other fixed tokens to the read token (model.actionStartGoal)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    px, slots = load(args.frames)
    first_state = json.loads(open(args.frames, "rb").readline())["states"][0]
    feats = patchify(px, args.patch)
    if args.labels:
        # Episodes of a dataset (token0-slot.ts --labels): scene, colour, and the slot or the
        # policy's first FAST token as the target; the last --test-episodes states are held out.
        rows = json.load(open(args.labels))
        scene = torch.tensor([r["state"] - first_state for r in rows])
        colour = torch.tensor([r["colour"] for r in rows])
        assert all(int(slots[r["state"] - first_state, r["colour"]]) == r["slot"] for r in rows), "labels and frames disagree on a slot"
        if args.target == "token0":
            classes = sorted({r["token0"] for r in rows})
            target = torch.tensor([classes.index(r["token0"]) for r in rows])
        else:
            target = torch.tensor([r["slot"] for r in rows])
        states = sorted({r["state"] for r in rows})
        held = set(states[-args.test_states :])
        is_test = torch.tensor([r["state"] in held for r in rows])
        test, train = torch.nonzero(is_test).flatten(), torch.nonzero(~is_test).flatten()
    else:
        n = len(feats)
        scene = torch.arange(n).repeat_interleave(6)
        colour = torch.arange(6).repeat(n)
        target = torch.from_numpy(slots.astype(np.int64)).flatten()
        test = torch.arange(6 * args.test)
        train = torch.arange(6 * args.test, 6 * n if args.train == 0 else 6 * (args.test + args.train))
    k = int(target.max()) + 1
    model = Probe(feats.shape[-1], layers=args.layers, after=args.after, pool=args.pool, classes=k)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)

    def marginal_entropy(ex):
        p = torch.bincount(target[ex], minlength=k).double() / len(ex)
        return float(-(p[p > 0] * p[p > 0].log()).sum())

    def evaluate(ex):
        with torch.no_grad():
            hits, ce = 0, 0.0
            for b in torch.split(ex, 256):
                logits = model(feats[scene[b]], colour[b])
                hits += (logits.argmax(-1) == target[b]).sum().item()
                ce += nn.functional.cross_entropy(logits, target[b], reduction="sum").item()
        return hits / len(ex), ce / len(ex)

    log = []
    for step in range(1, args.steps + 1):
        i = train[torch.randint(len(train), (args.batch,), generator=g)]
        loss = nn.functional.cross_entropy(model(feats[scene[i]], colour[i]), target[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            (tr_acc, tr_ce), (te_acc, te_ce) = evaluate(train[:1440]), evaluate(test)
            row = {"step": step, "loss": round(loss.item(), 4), "train_acc": round(tr_acc, 3), "test_acc": round(te_acc, 3), "train_ce": round(tr_ce, 3), "test_ce": round(te_ce, 3)}
            log.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"probe": "binding", "patch": args.patch, "layers": args.layers, "after": args.after, "pool": args.pool, "labels": args.labels, "target": args.target if args.labels else "slot", "classes": k, "train_examples": len(train), "test_examples": len(test), "steps": args.steps, "seed": args.seed, "marginal_entropy_train": round(marginal_entropy(train), 3), "test_acc": log[-1]["test_acc"], "train_acc": log[-1]["train_acc"], "test_ce": log[-1]["test_ce"], "train_ce": log[-1]["train_ce"]}))


if __name__ == "__main__":
    main()
