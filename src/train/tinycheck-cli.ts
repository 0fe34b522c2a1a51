/**
 * `npm run check:e2e`: runs the engine's end-to-end check in Node on Dawn and prints
 * the loss curve, then one JSON line with the final losses and throughput.
 */
import { defineCli } from '../cli/args.ts';
import { openRuntime } from '../engine/autotune';
import { DEFAULT_TINY_CHECK, runTinyCheck } from './tinycheck';

const { steps } = defineCli({
  name: 'check:e2e',
  command: 'npm run check:e2e --',
  description: "The engine's end-to-end check on Dawn: trains a tiny model and checks its losses fall below thresholds.",
  options: { steps: { type: 'int', min: 1, default: DEFAULT_TINY_CHECK.steps, help: 'training steps' } },
}).parse();
const rt = await openRuntime();
console.error(`adapter: ${rt.info.vendor} ${rt.info.architecture} (${rt.info.description})`);
const result = await runTinyCheck(rt, { ...DEFAULT_TINY_CHECK, steps }, {
  onStep(s) {
    if (s.step % 10 === 0 || s.step === steps - 1) {
      console.error(
        `step ${String(s.step).padStart(4)}  bc ${s.bc.toFixed(3)}  sa->l ${s.saL.toFixed(3)}  l->sa ${s.lSa.toFixed(3)} (floor ${s.lSaFloor.toFixed(3)})  acc ${s.accuracy.toFixed(2)}  temp ${s.temperature.toFixed(3)}  ${s.ms.toFixed(0)} ms`,
      );
    }
  },
});
rt.destroy();
console.log(
  JSON.stringify({
    check: 'engine-e2e',
    passed: result.passed,
    steps: result.steps.length,
    params: result.params,
    final: result.final,
    thresholds: result.thresholds,
    tokens_per_s: Math.round(result.tokensPerSecond),
    adapter: `${rt.info.vendor}/${rt.info.architecture}`,
  }),
);
process.exit(result.passed ? 0 : 1);
