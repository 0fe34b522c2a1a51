/**
 * `npm run check:e2e`: runs the engine's end-to-end check in Node on Dawn and prints
 * the loss curve, then one JSON line with the final losses and throughput.
 */
import { Runtime } from '../engine/runtime';
import { DEFAULT_TINY_CHECK, runTinyCheck } from './tinycheck';

const steps = Number(process.argv.find((a) => a.startsWith('--steps='))?.slice(8) ?? DEFAULT_TINY_CHECK.steps);
if (!Number.isInteger(steps) || steps < 1) {
  console.error(`--steps must be a positive integer, got ${steps}`);
  process.exit(2);
}
const rt = await Runtime.create();
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
