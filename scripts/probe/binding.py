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
    def __init__(self, feat, d=64, layers=2, heads=2, after=0, pool=False):
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
        self.out = nn.Linear(d, 6)

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
    ap.add_argument("--pool", action="store_true", help="add the mean of the colour and the other fixed tokens to the read token (model.actionStartGoal)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    px, slots = load(args.frames)
    feats = patchify(px, args.patch)
    labels = torch.from_numpy(slots.astype(np.int64))
    test = torch.arange(args.test)
    train = torch.arange(args.test, len(feats) if args.train == 0 else args.test + args.train)
    model = Probe(feats.shape[-1], layers=args.layers, after=args.after, pool=args.pool)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)

    def accuracy(scenes):
        with torch.no_grad():
            hits = 0
            for c in range(6):
                pred = model(feats[scenes], torch.full((len(scenes),), c)).argmax(-1)
                hits += (pred == labels[scenes, c]).sum().item()
        return hits / (6 * len(scenes))

    log = []
    for step in range(1, args.steps + 1):
        i = train[torch.randint(len(train), (args.batch,), generator=g)]
        c = torch.randint(6, (args.batch,), generator=g)
        loss = nn.functional.cross_entropy(model(feats[i], c), labels[i, c])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.eval_every == 0 or step == args.steps:
            row = {"step": step, "loss": round(loss.item(), 4), "train_acc": round(accuracy(train[:240]), 3), "test_acc": round(accuracy(test), 3)}
            log.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"probe": "binding", "patch": args.patch, "layers": args.layers, "after": args.after, "pool": args.pool, "train_scenes": len(train), "test_scenes": len(test), "steps": args.steps, "seed": args.seed, "chance": round(1 / 6, 3), "test_acc": log[-1]["test_acc"], "train_acc": log[-1]["train_acc"]}))


if __name__ == "__main__":
    main()
