"""Round 14 (reach4): success of every way of acting, per evaluation, with Wilson 95% intervals.

Usage: python3 scripts/results/reach4.py [dir]   (docs/results.md round 14; default scratch/r15)
Reads <dir>/<way>-<states>-s<seed>.eval.json (`npm run eval ... --out`; the commands are in
docs/results.md round 14, "Reproduce").
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import newcombe, wilson  # noqa: E402

O = sys.argv[1] if len(sys.argv) > 1 else 'scratch/r15'
WAYS = {
    'c-plain': 'CRL run, plain',
    'c-coh': 'CRL run: its critic picks the first chunk of 8, coherent after',
    'n-plain': 'BC-only run, plain',
    'n-coh': 'BC-only run: coherent selection alone (8 proposals, no critic)',
    'pair': 'BC-only run proposes, the CRL run\'s critic picks, coherent after',
    'c1-plain': 'CRL run, training seed 1, plain',
    'c1-coh': 'CRL run, training seed 1: its critic picks, coherent after',
}
rows = {}
for f in sorted(glob.glob(f'{O}/*.eval.json')):
    m = re.match(r'(.+)-(\d+-\d+)-s(\d+)\.eval\.json$', os.path.basename(f))
    if not m:
        continue
    way, states, seed = m.groups()
    eps = json.load(open(f))['episodes']
    k, n = sum(e['success'] for e in eps), len(eps)
    rows.setdefault(way, []).append((states, int(seed), k, n))


def cell(k, n):
    lo, hi = wilson(k, n)
    return f'{k}/{n} = {100 * k / n:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]'


print('| way of acting | states | sampling seed | success |')
print('| --- | --- | --- | --- |')
for way, label in WAYS.items():
    for states, seed, k, n in sorted(rows.get(way, [])):
        print(f'| {label} | {states} | {seed} | {cell(k, n)} |')
    runs = rows.get(way, [])
    if len(runs) > 1:
        K, N = sum(r[2] for r in runs), sum(r[3] for r in runs)
        print(f'| {label} | all above | | **{cell(K, N)}** |')


def pooled(way, states):
    r = [x for x in rows.get(way, []) if x[0] == states and x[1] == 0]
    return (r[0][2], r[0][3]) if r else None


a, b = pooled('c-coh', '0-9'), pooled('n-coh', '0-9')
if a and b:
    d, lo, hi = newcombe(a[0], a[1], b[0], b[1])
    print(f'\nCRL vs BC-only, 8 proposals each (states 0-9, seed 0): {100 * d:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]')
a, b = pooled('c-plain', '0-9'), pooled('n-plain', '0-9')
if a and b:
    d, lo, hi = newcombe(a[0], a[1], b[0], b[1])
    print(f'CRL vs BC-only, plain (states 0-9, seed 0): {100 * d:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}]')
