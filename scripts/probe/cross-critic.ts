/**
 * Proposals from one checkpoint, ranked by another checkpoint's CRL critic (docs/results.md
 * round 10, issue 10). At batch 48 the BC-only policy moves better (lower BC loss, it lands
 * on a block far more often) but has no critic; the CRL run's critic binds the instruction
 * to the scene. This evaluates the combination: the policy proposes 8 chunks on each
 * episode's first re-plan, the critic's V = phi(s, a) . psi(l) picks one, then the policy
 * runs plainly (selectCalls 1), on the held-out reach states 0-9 as `npm run eval` runs them.
 * Both checkpoints must share their tokenizers and vision config (refused otherwise).
 * Not a product option yet: PRTS folds policy and critic into one model.
 *
 *   node scripts/run.mjs scripts/probe/cross-critic.ts <policy run> <critic run> [seed]
 */
import { openRuntime } from '../../src/engine/autotune.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { nodeCheckpointIO } from '../../src/train/checkpoint-node.ts';
import { evaluate } from '../../src/train/eval.ts';
import { prtsPolicyFromCheckpoint } from '../../src/train/inference.ts';

const [policyDir, criticDir, seedArg] = process.argv.slice(2);
if (!policyDir || !criticDir) {
  console.error('usage: cross-critic.ts <policy run> <critic run> [seed]');
  process.exit(2);
}
const seed = Number(seedArg ?? 0);
const rt = await openRuntime();
const pd = await loadCheckpoint(await nodeCheckpointIO(policyDir, { create: false }));
const cd = await loadCheckpoint(await nodeCheckpointIO(criticDir, { create: false }));
if (!cd.trainer.withCrl) throw new Error(`${criticDir} was trained without CRL: it has no critic`);
if (JSON.stringify(pd.tokenizers) !== JSON.stringify(cd.tokenizers)) throw new Error('the two checkpoints tokenize actions differently; the critic cannot score the proposals');
for (const k of ['imageSize', 'patchSize', 'cameras', 'chunkLength'] as const) {
  if (JSON.stringify(pd.config.model[k]) !== JSON.stringify(cd.config.model[k])) throw new Error(`model.${k} differs between the checkpoints`);
}
// The policy's own CRL flag only gates selection; its candidates are scored by the critic below.
const policy = await prtsPolicyFromCheckpoint({ ...pd, trainer: { ...pd.trainer, withCrl: true } }, { rt, mode: 'ar', candidates: 8, selectCalls: 1, seed });
const critic = await prtsPolicyFromCheckpoint(cd, { rt, mode: 'ar' });
policy.inference.candidateValues = critic.inference.candidateValues.bind(critic.inference);
const size = pd.config.model.imageSize;
const res = await evaluate(policy, { suites: ['reach'], initStates: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], perturbations: ['nominal'], seed, envsPerBatch: 12, camera: { width: size, height: size, device: rt.device } });
const st = policy.inference.stats;
console.log(JSON.stringify({ policy: policyDir, critic: criticDir, seed, successes: res.episodes.filter((e) => e.success).length, n: res.episodes.length, value_selected: st.valueSelected, value_overrode: st.valueOverrode }));
policy.dispose();
critic.dispose();
rt.destroy();
