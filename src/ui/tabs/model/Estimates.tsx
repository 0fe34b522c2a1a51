/** Parameter count, sequence layout and training memory implied by a valid config. */
import { formatBytes } from '../../lib/format.ts';
import { formatCount, maxVocabSize, memoryEstimate, paramCount, sequenceLayout, type WorkbenchConfig } from '../../../model/config.ts';
import { useGpuStore } from '../../stores/gpu.ts';

export function Estimates({ config }: { config: WorkbenchConfig }) {
  const p = paramCount(config.model);
  const s = sequenceLayout(config.model);
  const m = memoryEstimate(config);
  const maxBuffer = useGpuStore((st) => st.info?.limits.maxBufferSize);
  // The largest single tensor: the embedding table or the LM head (both vocab x d), or an MLP matrix.
  const largest = 4 * config.model.dModel * Math.max(maxVocabSize(config.model), Math.round(config.model.mlpRatio * config.model.dModel));
  return (
    <div className="panel" data-testid="estimates">
      <h2>Size</h2>
      <div className="stats">
        <div className="stat"><div className="v" data-testid="param-count">{formatCount(p.total)}</div><div className="k">parameters, at most ({p.total.toLocaleString()}; the tokenizers fitted on the data set the exact vocabulary)</div></div>
        <div className="stat"><div className="v" data-testid="memory-total">{formatBytes(m.total)}</div><div className="k">training memory (batch {config.train.batchSize})</div></div>
        <div className="stat"><div className="v">{s.total}</div><div className="k">tokens per document</div></div>
      </div>
      <h3>Parameters</h3>
      <table className="kv">
        <tbody>
          <tr><th>embeddings (≤ {maxVocabSize(config.model)} tokens: special, text, state bins, FAST)</th><td>{formatCount(p.embeddings)}</td></tr>
          <tr><th>patch stem (pixels + camera one-hot)</th><td>{formatCount(p.patchEmbed)}</td></tr>
          <tr><th>{config.model.layers} blocks</th><td>{formatCount(p.blocks)}</td></tr>
          <tr><th>LM head</th><td>{formatCount(p.lmHead)}</td></tr>
          <tr><th>CRL heads φ, ψ + scale</th><td>{formatCount(p.crlHeads)}</td></tr>
          {p.groundingHead > 0 && <tr><th>grounding head</th><td>{formatCount(p.groundingHead)}</td></tr>}
        </tbody>
      </table>
      <h3>Memory (f32)</h3>
      <table className="kv">
        <tbody>
          <tr><th>weights</th><td>{formatBytes(m.weights)}</td></tr>
          <tr><th>gradients</th><td>{formatBytes(m.grads)}</td></tr>
          <tr><th>AdamW moments</th><td>{formatBytes(m.optimizer)}</td></tr>
          <tr><th>activations</th><td>{formatBytes(m.activations)}</td></tr>
        </tbody>
      </table>
      {maxBuffer !== undefined && largest > maxBuffer && (
        <p className="field-error">The largest weight matrix ({formatBytes(largest)}) exceeds this adapter's maxBufferSize ({formatBytes(maxBuffer)}).</p>
      )}
      <h3>Tokens per document</h3>
      <table className="kv">
        <tbody>
          <tr><th>vision ({config.model.cameras.length} cam × {(config.model.imageSize / config.model.patchSize) ** 2} patches)</th><td>{s.visionTokens}</td></tr>
          <tr><th>state</th><td>{s.stateTokens}</td></tr>
          <tr><th>instruction</th><td>{s.instructionTokens}</td></tr>
          <tr><th>AR action</th><td>{s.arActionTokens}</td></tr>
          <tr><th>CRL action</th><td>{s.crlActionTokens}</td></tr>
          <tr><th>CRL goal</th><td>{s.crlGoalTokens}</td></tr>
        </tbody>
      </table>
    </div>
  );
}
