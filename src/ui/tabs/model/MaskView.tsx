/**
 * The role-aware attention mask and its block map for an example layout, built by the
 * engine's own builder (src/engine/blockmap.ts): what the kernels will skip, visit
 * without a mask, or mask per element. Layout parameters live in the URL.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { buildBlockMap, denseMask, TileClass, type BlockMap } from '../../../engine/blockmap.ts';
import { PRTS_RULE, ROLE_NAMES } from '../../../engine/roles.ts';
import { intParam } from '../../lib/route.ts';
import { useTabParams } from '../../lib/useRoute.ts';
import { DEFAULT_RUNS, exampleLayout, MAX_DOCS, MAX_RUN, ROLE_COLORS, ROLE_LABELS, ROLE_PARAM_KEYS, type RoleRuns } from './layout.ts';

/** Above this many tokens the per-element image (n^2 bytes) is skipped; tiles still draw. */
const MAX_ELEMENT_TOKENS = 2048;
const CANVAS_PX = 720;
const STRIP = 8;

const css = (c: readonly number[], a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

export function MaskView({ configTile, configRuns }: { configTile: 32 | 64; configRuns: RoleRuns | null }) {
  const [params, setParams] = useTabParams();
  const docs = intParam(params, 'docs', 2, 1, MAX_DOCS);
  const tile = (intParam(params, 'tile', configTile, 32, 64) >= 48 ? 64 : 32) as 32 | 64;
  const runs = ROLE_PARAM_KEYS.map((k, r) => intParam(params, k, DEFAULT_RUNS[r], 0, MAX_RUN)) as RoleRuns;
  const perDoc = runs.reduce((a, b) => a + b, 0);

  const built = useMemo((): { map: BlockMap; mask: Uint8Array | null; role: Uint8Array } | { error: string } => {
    try {
      const { doc, role } = exampleLayout(docs, runs);
      const map = buildBlockMap(doc, role, { tile, rule: PRTS_RULE });
      const mask = doc.length <= MAX_ELEMENT_TOKENS ? denseMask(doc, role, PRTS_RULE) : null;
      return { map, mask, role };
    } catch (e) {
      return { error: (e as Error).message };
    }
    // runs is rebuilt every render; its joined form is the real dependency.
  }, [docs, tile, runs.join(',')]);

  return (
    <div className="panel" data-testid="mask-view">
      <div className="panel-head">
        <h2>Attention mask and block map</h2>
        <span className="muted">built by src/engine/blockmap.ts with the PRTS rule</span>
      </div>
      <div className="row" style={{ marginBottom: 6 }}>
        <label>
          documents{' '}
          <input type="range" min={1} max={MAX_DOCS} value={docs} data-testid="docs" onChange={(e) => setParams({ docs: e.target.value })} />{' '}
          <span className="mono">{docs}</span>
        </label>
        <label>
          tile{' '}
          <select value={tile} data-testid="tile" onChange={(e) => setParams({ tile: e.target.value })}>
            <option value={32}>32</option>
            <option value={64}>64</option>
          </select>
        </label>
        <button
          type="button"
          disabled={!configRuns}
          title={configRuns ? 'Role lengths of one document of the current config' : 'The config is invalid'}
          onClick={() => configRuns && setParams(Object.fromEntries(ROLE_PARAM_KEYS.map((k, r) => [k, Math.min(MAX_RUN, configRuns[r])])))}
        >
          Use the config's layout
        </button>
        <button type="button" onClick={() => setParams({ docs: null, tile: null, ...Object.fromEntries(ROLE_PARAM_KEYS.map((k) => [k, null])) })}>
          Reset
        </button>
      </div>
      <div className="row" style={{ marginBottom: 8 }}>
        {ROLE_LABELS.map((label, r) => (
          <label key={label} title={ROLE_NAMES[r]}>
            <span className="swatch" style={{ background: css(ROLE_COLORS[r]) }} />
            {label}{' '}
            <input
              type="range"
              min={0}
              max={MAX_RUN}
              value={runs[r]}
              data-testid={`run-${ROLE_PARAM_KEYS[r]}`}
              onChange={(e) => setParams({ [ROLE_PARAM_KEYS[r]]: e.target.value })}
            />{' '}
            <span className="mono">{runs[r]}</span>
          </label>
        ))}
      </div>
      {perDoc === 0 ? (
        <p className="field-error">Every role run is 0: a document needs at least one token.</p>
      ) : 'error' in built ? (
        <p className="field-error">{built.error}</p>
      ) : (
        <MaskCanvas map={built.map} mask={built.mask} role={built.role} />
      )}
    </div>
  );
}

function MaskCanvas({ map, mask, role }: { map: BlockMap; mask: Uint8Array | null; role: Uint8Array }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ q: number; k: number } | null>(null);
  const n = map.n;
  const scale = CANVAS_PX / n;
  const empty = map.numTiles * map.numTiles - map.fullTiles - map.partialTiles;

  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const W = CANVAS_PX + STRIP;
    ctx.clearRect(0, 0, W, W);
    ctx.fillStyle = '#fff';
    ctx.fillRect(STRIP, STRIP, CANVAS_PX, CANVAS_PX);
    // Role strips: key roles along the top, query roles down the left.
    for (let t = 0; t < n; t++) {
      ctx.fillStyle = css(ROLE_COLORS[role[t]]);
      ctx.fillRect(STRIP + t * scale, 0, Math.max(scale, 1), STRIP - 1);
      ctx.fillRect(0, STRIP + t * scale, STRIP - 1, Math.max(scale, 1));
    }
    if (mask) {
      // Allowed elements in the key's role colour: each row shows which roles a query reads.
      const img = new ImageData(n, n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j <= i; j++) {
          if (!mask[i * n + j]) continue;
          const c = ROLE_COLORS[role[j]];
          const o = 4 * (i * n + j);
          img.data[o] = c[0];
          img.data[o + 1] = c[1];
          img.data[o + 2] = c[2];
          img.data[o + 3] = 255;
        }
      }
      const off = new OffscreenCanvas(n, n);
      off.getContext('2d')!.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = scale < 1;
      ctx.drawImage(off, STRIP, STRIP, CANVAS_PX, CANVAS_PX);
    }
    // Tiles: FULL tinted green, PARTIAL outlined amber, EMPTY left bare.
    const ts = map.tile * scale;
    for (let qt = 0; qt < map.numTiles; qt++) {
      for (let kt = 0; kt < map.numTiles; kt++) {
        const cls = map.classes[qt * map.numTiles + kt];
        const x = STRIP + kt * ts;
        const y = STRIP + qt * ts;
        const w = Math.min(ts, STRIP + CANVAS_PX - x);
        const h = Math.min(ts, STRIP + CANVAS_PX - y);
        if (cls === TileClass.FULL) {
          ctx.fillStyle = 'rgba(26,127,55,0.18)';
          ctx.fillRect(x, y, w, h);
          ctx.strokeStyle = 'rgba(26,127,55,0.9)';
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x + 0.75, y + 0.75, w - 1.5, h - 1.5);
        } else if (cls === TileClass.PARTIAL) {
          ctx.strokeStyle = 'rgba(219,109,0,0.95)';
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x + 0.75, y + 0.75, w - 1.5, h - 1.5);
        } else {
          ctx.strokeStyle = 'rgba(0,0,0,0.06)';
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
        }
      }
    }
  }, [map, mask, role, n, scale]);

  const hoverInfo = useMemo(() => {
    if (!hover) return null;
    const { q, k } = hover;
    const qt = Math.floor(q / map.tile);
    const kt = Math.floor(k / map.tile);
    const cls = map.classes[qt * map.numTiles + kt];
    const clsName = cls === TileClass.FULL ? 'FULL' : cls === TileClass.PARTIAL ? 'PARTIAL' : 'EMPTY';
    const allowed = k <= q && map.doc[q] === map.doc[k] && PRTS_RULE[role[q]][role[k]];
    return `query ${q} (doc ${map.doc[q]}, ${ROLE_NAMES[role[q]]}) → key ${k} (doc ${map.doc[k]}, ${ROLE_NAMES[role[k]]}): ${allowed ? 'attends' : 'masked'}; tile (${qt}, ${kt}) ${clsName}`;
  }, [hover, map, role]);

  return (
    <div className="row" style={{ alignItems: 'flex-start' }}>
      <canvas
        ref={ref}
        className="mask"
        width={CANVAS_PX + STRIP}
        height={CANVAS_PX + STRIP}
        style={{ width: 'min(100%, 560px)' }}
        data-testid="mask-canvas"
        onMouseMove={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const px = ((e.clientX - r.left) / r.width) * (CANVAS_PX + STRIP) - STRIP;
          const py = ((e.clientY - r.top) / r.height) * (CANVAS_PX + STRIP) - STRIP;
          const k = Math.floor(px / scale);
          const q = Math.floor(py / scale);
          setHover(q >= 0 && k >= 0 && q < n && k < n ? { q, k } : null);
        }}
        onMouseLeave={() => setHover(null)}
      />
      <div style={{ minWidth: 220 }}>
        <table className="kv">
          <tbody>
            <tr><th>tokens</th><td data-testid="token-count">{n}</td></tr>
            <tr><th>tile</th><td>{map.tile} ({map.numTiles} × {map.numTiles} tiles)</td></tr>
            <tr><th><span className="swatch" style={{ background: 'rgba(26,127,55,0.5)' }} />FULL</th><td data-testid="tiles-full">{map.fullTiles}</td></tr>
            <tr><th><span className="swatch" style={{ border: '2px solid rgb(219,109,0)' }} />PARTIAL</th><td data-testid="tiles-partial">{map.partialTiles}</td></tr>
            <tr><th><span className="swatch" style={{ border: '1px solid #ccc' }} />EMPTY</th><td data-testid="tiles-empty">{empty}</td></tr>
            <tr><th>visited tiles</th><td data-testid="visited-fraction">{(100 * map.visitedFraction).toFixed(1)}%</td></tr>
            <tr><th>allowed pairs</th><td>{map.allowedPairs.toLocaleString()} ({((100 * map.allowedPairs) / (n * n)).toFixed(1)}% of n²)</td></tr>
            <tr><th>useful work in visited tiles</th><td>{map.fullTiles + map.partialTiles > 0 ? ((100 * map.allowedPairs) / ((map.fullTiles + map.partialTiles) * map.tile * map.tile)).toFixed(1) : '0'}%</td></tr>
          </tbody>
        </table>
        {!mask && <p className="hint">More than {MAX_ELEMENT_TOKENS} tokens: element image omitted, tiles shown.</p>}
        <p className="hint">Allowed elements are drawn in the key's role colour. Hover for details.</p>
        <p className="mono hint" style={{ minHeight: 48 }}>{hoverInfo}</p>
      </div>
    </div>
  );
}
