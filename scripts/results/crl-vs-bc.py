"""CRL vs no CRL: per run and pooled per condition, Wilson 95% intervals; the difference of pooled rates with Newcombe's interval."""
import json, math, os, sys
# Usage: python3 scripts/results/crl-vs-bc.py <dir with {c0,c1,c2,n0,n1,n2}-{plain,coh,coh10,lang,vis}.eval.json and <run>.value.json>
# (docs/results.md round 13 on reach, round 15 on reach4; coh10 = 8 proposals on states 10-49, where present)
# --prior tag-kind=k/n,... : counts measured in an earlier round whose run is gone (round 15: CRL seed 1's
# nominal results, round 14's measurements); they join the tables marked with a dagger.
args = [a for a in sys.argv[1:] if not a.startswith('--prior=')]
O = args[0] if args else 'scratch/r14'
PRIOR = {}
for a in sys.argv[1:]:
    if a.startswith('--prior='):
        for item in a[len('--prior='):].split(','):
            tag, kn = item.split('='); k, n = kn.split('/'); PRIOR[tag] = (int(k), int(n))
RUNS = {'crl': ['c0', 'c1', 'c2'], 'bc': ['n0', 'n1', 'n2']}
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import newcombe, wilson  # noqa: E402
def load(tag):
    f = f'{O}/{tag}.eval.json'
    if not os.path.exists(f): return PRIOR.get(tag)
    return json.load(open(f))
def counts(res, axes=None):
    if isinstance(res, tuple): return res
    eps = [e for e in res['episodes'] if axes is None or e['perturbation'] in axes]
    return sum(e['success'] for e in eps), len(eps)
ROWS = [('plain', 'nominal', None), ('coh', 'nominal', None), ('coh10', 'nominal, states 10-49', None)]
LANG = ['position_swap', 'novel_task', 'paraphrase']; VIS = ['lighting', 'camera', 'sensor_noise', 'table_color', 'background']
for a in LANG: ROWS.append(('lang', a, [a]))
ROWS.append(('vis', 'visual (5 axes)', VIS))
for a in VIS: ROWS.append(('vis', a, [a]))
fmt = lambda k, n, tag=None: (f'{k}/{n}' + (' †' if tag in PRIOR else '')) if n else '-'
print('| way of acting | axis | ' + ' | '.join(RUNS['crl'] + RUNS['bc']) + ' | CRL pooled | BC-only pooled | CRL - BC [95%] |')
print('|' + ' --- |' * (5 + 6))
out = []
for kind, axis, axes in ROWS:
    cells = {}; pooled = {}
    for cond, runs in RUNS.items():
        K = N = 0
        for r in runs:
            res = load(f'{r}-{kind}')
            k, n = counts(res, axes) if res else (0, 0)
            cells[r] = fmt(k, n, f'{r}-{kind}'); K += k; N += n
        pooled[cond] = (K, N)
    def pc(c):
        K, N = pooled[c]
        if not N: return '-'
        lo, hi = wilson(K, N); return f'{K}/{N} = {100*K/N:.1f}% [{100*lo:.1f}, {100*hi:.1f}]'
    (k1, n1), (k2, n2) = pooled['crl'], pooled['bc']
    diff = '-'
    if n1 and n2:
        d, lo, hi = newcombe(k1, n1, k2, n2); diff = f'{100*d:+.1f} [{100*lo:+.1f}, {100*hi:+.1f}]'
    if not pooled['crl'][1] and not pooled['bc'][1]: continue
    name = {'plain': 'plain', 'coh': 'coherent*', 'coh10': 'coherent*', 'lang': 'coherent*', 'vis': 'coherent*'}[kind]
    print(f'| {name} | {axis} | ' + ' | '.join(cells[r] for r in RUNS['crl'] + RUNS['bc']) + f' | {pc("crl")} | {pc("bc")} | {diff} |')
    out.append({'kind': kind, 'axis': axis, 'cells': cells, 'crl': pooled['crl'], 'bc': pooled['bc']})
print(json.dumps(out))
print()
print('| run | lambda_CRL | V(true) > V(wrong) | Spearman(V(true), t) | mean V(true) / V(wrong) |')
print('| --- | --- | --- | --- | --- |')
for r in RUNS['crl'] + RUNS['bc']:
    f = f'{O}/{r}.value.json'
    if not os.path.exists(f): continue
    s = json.load(open(f))['summary']; a = s['frac_true_above']; b = s['spearman_time_successful']
    print(f"| {r} | {s['lambda_crl']} | {a['estimate']:.3f} [{a['lo']:.3f}, {a['hi']:.3f}] | {b['estimate']:.3f} [{b['lo']:.3f}, {b['hi']:.3f}] | {s['mean_v_true']:.3f} / {s['mean_v_wrong']:.3f} |")
print()
print('Across training seeds (nominal): mean rate, and the t interval over the seeds (t = 12.706 for 2 seeds, 4.303 for 3)')
for kind in ['plain', 'coh', 'coh10']:
    for cond, runs in RUNS.items():
        rs = []
        for r in runs:
            res = load(f'{r}-{kind}')
            if res:
                k, n = counts(res); rs.append(k / n)
        if len(rs) < 2:
            if rs: print(kind, cond, rs)
            continue
        m = sum(rs) / len(rs); sd = math.sqrt(sum((x - m) ** 2 for x in rs) / (len(rs) - 1)); t = {2: 12.706, 3: 4.303}[len(rs)]
        print(f'{kind} {cond}: per seed {[round(100*x,1) for x in rs]}, mean {100*m:.1f}% [{100*(m - t*sd/math.sqrt(len(rs))):.1f}, {100*(m + t*sd/math.sqrt(len(rs))):.1f}]')
