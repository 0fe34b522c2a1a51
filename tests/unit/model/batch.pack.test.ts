import { beforeAll, describe, expect, it } from 'vitest';
import { TileClass, buildBlockMap } from '../../../src/engine/blockmap.ts';
import { Role } from '../../../src/engine/roles.ts';
import { BatchBuilder, buildBatch, packDocuments, scatterSlots, type BatchBuilderOptions, type PackedBatch } from '../../../src/model/batch.ts';
import type { ModelBatch } from '../../../src/model/prts.ts';
import { SPECIAL } from '../../../src/model/tokenizers/index.ts';
import type { PackedBatch as TinyPackedBatch } from '../../../src/train/tinycheck-data.ts';
import { PATCHES, TASKS, makeFixture, type Fixture } from './batch.dataset.ts';

const OPTS: BatchBuilderOptions = { tasksPerBatch: 3, samplesPerTask: 3, seed: 11, maxTokens: 160, tile: 32, gamma: 0.9, imagePatches: PATCHES };

/** Tokens of document k, in order. */
function docSlice(b: PackedBatch, k: number) {
  const s = b.docStart[k];
  const e = s + b.docLength[k];
  return { ids: Array.from(b.ids.slice(s, e)), roles: Array.from(b.roles.slice(s, e)), positions: Array.from(b.positions.slice(s, e)) };
}

describe('PRTS batch builder', () => {
  let fx: Fixture;
  let batches: PackedBatch[];
  beforeAll(async () => {
    fx = await makeFixture();
    const builder = new BatchBuilder(fx.index, fx.bundle, OPTS);
    batches = Array.from({ length: 12 }, () => builder.next());
  });

  it('every batch has at least 2 positives of each of its tasks, and goals are deduplicated by instruction', () => {
    for (const b of batches) {
      expect(b.samples).toBe(9);
      expect(b.goals).toBe(3);
      expect(b.goalEndIndex.length).toBe(b.goals);
      expect(b.actionEndIndex.length).toBe(b.samples);
      for (let g = 0; g < b.goals; g++) {
        const members = Array.from(b.goalOf).flatMap((x, i) => (x === g ? [i] : []));
        expect(members.length).toBeGreaterThanOrEqual(2);
        // The single 3-frame episode of task 3 has exactly 3 samples: still 3 distinct positives.
        expect(new Set(members.map((i) => b.sampleIds[i])).size).toBeGreaterThanOrEqual(2);
        expect(b.goalInstructions[g]).toBe(TASKS[b.tasks[b.goalSample[g]]]);
        expect(b.goalOf[b.goalSample[g]]).toBe(g);
      }
      for (let i = 0; i < b.samples; i++) {
        for (let j = 0; j < b.samples; j++) expect(b.goalOf[i] === b.goalOf[j]).toBe(b.tasks[i] === b.tasks[j]);
        // psi's input (the CRL_goal block) is laid out once per goal, in the goal's first
        // sample (shareGoalBlocks): the other samples' documents end at their CRL_action block.
        const goalTokens = (k: number) => docSlice(b, k).ids.filter((_, x) => docSlice(b, k).roles[x] === Role.CRL_GOAL);
        const first = b.goalSample[b.goalOf[i]];
        if (i === first) expect(goalTokens(i)).toEqual([...fx.bundle.vocab.text(fx.bundle.instruction.encode(TASKS[b.tasks[i]])), SPECIAL.goalEnd]);
        else expect(goalTokens(i)).toEqual([]);
      }
      // psi is read at the <|goal_end|> of the goal's first sample; phi at each sample's <|action_end|>.
      b.goalEndIndex.forEach((idx, g) => {
        expect(b.ids[idx]).toBe(SPECIAL.goalEnd);
        expect(b.docs[idx]).toBe(b.goalSample[g]);
      });
      b.actionEndIndex.forEach((idx, k) => {
        expect(b.ids[idx]).toBe(SPECIAL.actionEnd);
        expect(b.docs[idx]).toBe(k);
      });
    }
    // Over the stream every task comes up, the short one included.
    expect(new Set(batches.flatMap((b) => Array.from(b.tasks)))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('CRL weights are gamma^(T - t) of each sample', () => {
    for (const b of batches) {
      for (let k = 0; k < b.samples; k++) {
        const s = fx.index.sample(b.sampleIds[k]);
        expect([b.t[k], b.T[k], b.episodes[k]]).toEqual([s.t, s.T, s.episode]);
        expect(b.crlWeights[k]).toBeCloseTo(Math.pow(0.9, s.T - s.t), 6);
      }
    }
  });

  it('packs whole documents into rows of maxTokens, padding only row tails', () => {
    for (const b of batches) {
      expect(b.n).toBe(b.rows * b.maxTokens);
      expect(b.maxTokens).toBe(160);
      for (let k = 0; k < b.samples; k++) {
        const s = b.docStart[k];
        const e = s + b.docLength[k];
        // Contiguous, inside one row, and nothing else of the document anywhere.
        expect(Math.floor(s / b.maxTokens)).toBe(Math.floor((e - 1) / b.maxTokens));
        expect(Array.from(b.docs.slice(s, e)).every((d) => d === k)).toBe(true);
        expect(Array.from(b.docs).filter((d) => d === k).length).toBe(b.docLength[k]);
      }
      let pads = 0;
      for (let i = 0; i < b.n; i++) {
        if (b.docs[i] >= b.samples) {
          pads++;
          expect(b.docs[i]).toBe(b.samples + Math.floor(i / b.maxTokens));
          expect(b.ids[i]).toBe(SPECIAL.pad);
          // Padding sits after every document of its row.
          if (i % b.maxTokens < b.maxTokens - 1) expect(b.docs[i + 1]).toBe(b.docs[i]);
        }
      }
      expect(pads).toBe(b.padTokens);
      expect(b.paddingFraction).toBeCloseTo(pads / b.n, 12);
      // First-fit: no row could have taken a document of a later row.
      const used = Array.from({ length: b.rows }, (_, r) => b.maxTokens - Array.from(b.docs.slice(r * b.maxTokens, (r + 1) * b.maxTokens)).filter((d) => d >= b.samples).length);
      const shortest = Math.min(...Array.from(b.docLength));
      for (let r = 0; r + 1 < b.rows; r++) expect(used[r] + shortest).toBeGreaterThan(b.maxTokens);
    }
    expect(() => packDocuments([10, 30, 20], { maxTokens: 25 })).toThrow(/document 1 has 30 tokens, more than maxTokens = 25/);
    expect(() => packDocuments([10, 10, 10], { maxTokens: 20, maxRows: 1 })).toThrow(/need 2 rows of 20 tokens, more than maxRows = 1/);
    const p = packDocuments([6, 5, 4, 3, 2], { maxTokens: 10 });
    expect({ rows: p.rows, docRow: Array.from(p.docRow), padTokens: p.padTokens }).toEqual({ rows: 2, docRow: [0, 1, 0, 1, 1], padTokens: 0 });
  });

  it("positions and roles of every document equal layoutDocument's; targets are the AR action's next tokens", () => {
    for (const b of batches) {
      let targetsSeen = 0;
      for (let k = 0; k < b.samples; k++) {
        const s = fx.index.sample(b.sampleIds[k]);
        const L = fx.bundle.layout({ imagePatches: PATCHES, state: s.state, instruction: s.instruction, actions: s.actions });
        // A goal's later samples carry the layout without its trailing CRL_goal block.
        const end = b.goalSample[b.goalOf[k]] === k ? L.ids.length : L.spans.crlGoal!.start;
        expect(L.spans.crlGoal!.end).toBe(L.ids.length);
        expect(docSlice(b, k)).toEqual({ ids: Array.from(L.ids.slice(0, end)), roles: Array.from(L.roles.slice(0, end)), positions: Array.from(L.positions.slice(0, end)) });
        targetsSeen += L.targetIndices.length;
      }
      expect(b.targetIndices.length).toBe(targetsSeen);
      expect(b.targets.length).toBe(targetsSeen);
      b.targetIndices.forEach((idx, j) => {
        expect(b.roles[idx]).toBe(Role.AR_ACTION);
        expect(b.roles[idx + 1]).toBe(Role.AR_ACTION);
        expect(b.docs[idx + 1]).toBe(b.docs[idx]);
        expect(b.targets[j]).toBe(b.ids[idx + 1]);
      });
      // Every AR token but <|action_end_ar|> (whose next token is outside the span) is trained.
      const arTokens = Array.from(b.roles).filter((r) => r === Role.AR_ACTION).length;
      expect(b.targetIndices.length).toBe(arTokens - b.samples);
    }
  });

  it('image slots, state and actions per sample', () => {
    const b = batches[0];
    expect(b.imageSlots.length).toBe(b.samples * PATCHES[0]);
    b.imageSlots.forEach((idx, slot) => {
      const k = Math.floor(slot / PATCHES[0]);
      expect(b.ids[idx]).toBe(SPECIAL.image);
      expect(b.docs[idx]).toBe(k);
      expect(idx - b.docStart[k]).toBe(1 + (slot % PATCHES[0]));
      expect(b.frames[k][0]).toEqual({ camera: 'agentview', key: 'observation.images.agentview', episode: b.episodes[k], t: b.t[k] });
    });
    const feats = scatterSlots(b, Float32Array.from({ length: b.imageSlots.length * 2 }, (_, i) => i + 1), 2);
    expect(feats.length).toBe(b.n * 2);
    b.imageSlots.forEach((idx, slot) => expect([feats[idx * 2], feats[idx * 2 + 1]]).toEqual([slot * 2 + 1, slot * 2 + 2]));
    expect(feats.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0)).toBe(b.imageSlots.length * 2);
    for (let k = 0; k < b.samples; k++) {
      const s = fx.index.sample(b.sampleIds[k]);
      expect(Array.from(b.state.slice(k * b.stateDim, (k + 1) * b.stateDim))).toEqual(Array.from(s.state));
      expect(Array.from(b.actions.slice(k * b.horizon * b.actionDim, (k + 1) * b.horizon * b.actionDim))).toEqual(Array.from(s.actions));
      expect(Array.from(b.actionValid.slice(k * b.horizon, (k + 1) * b.horizon))).toEqual(Array.from(s.valid));
    }
    expect(() => scatterSlots(b, [1, 2, 3], 2)).toThrow(/values hold 3 numbers, expected imageSlots/);
  });

  it('the BC-only batch is the CRL batch with the CRL spans removed', () => {
    const bc = new BatchBuilder(fx.index, fx.bundle, { ...OPTS, withCrl: false });
    for (const b of batches.slice(0, 4)) {
      const o = bc.next();
      expect(o.withCrl).toBe(false);
      expect(Array.from(o.sampleIds)).toEqual(Array.from(b.sampleIds));
      expect(o.actionEndIndex.length).toBe(0);
      expect(o.goalEndIndex.length).toBe(0);
      expect(Array.from(o.goalOf)).toEqual(Array.from(b.goalOf));
      expect(Array.from(o.roles).some((r) => r === Role.CRL_ACTION || r === Role.CRL_GOAL)).toBe(false);
      for (let k = 0; k < b.samples; k++) {
        const full = docSlice(b, k);
        const keep = full.roles.map((r) => r !== Role.CRL_ACTION && r !== Role.CRL_GOAL);
        const strip = (a: number[]) => a.filter((_, i) => keep[i]);
        expect(docSlice(o, k)).toEqual({ ids: strip(full.ids), roles: strip(full.roles), positions: strip(full.positions) });
      }
      // Same BC labels in the same (sample) order.
      expect(Array.from(o.targets)).toEqual(Array.from(b.targets));
      expect(o.n).toBeLessThanOrEqual(b.n);
    }
  });

  it('the returned block map is buildBlockMap of the packed arrays', () => {
    for (const b of batches.slice(0, 4)) {
      const ref = buildBlockMap(b.docs, b.roles, { tile: 32 });
      expect(b.blockMap.tile).toBe(32);
      expect(Array.from(b.blockMap.classes)).toEqual(Array.from(ref.classes));
      expect(Array.from(b.blockMap.byQuery.partial.indices)).toEqual(Array.from(ref.byQuery.partial.indices));
      expect(Array.from(b.blockMap.byKey.full.offsets)).toEqual(Array.from(ref.byKey.full.offsets));
      expect(b.blockMap.allowedPairs).toBe(ref.allowedPairs);
      expect(b.visitedFraction).toBe(ref.visitedFraction);
      // maxTokens = 5 tiles, so rows align with tiles and no tile pair across rows is visited.
      const { numTiles, classes } = b.blockMap;
      const rowOf = (tile: number) => Math.floor((tile * 32) / b.maxTokens);
      for (let qt = 0; qt < numTiles; qt++) {
        for (let kt = 0; kt < numTiles; kt++) if (rowOf(qt) !== rowOf(kt)) expect(classes[qt * numTiles + kt]).toBe(TileClass.EMPTY);
      }
      expect(b.visitedFraction).toBeLessThan(1 / b.rows + 1e-9);
    }
  });

  it('is deterministic from the seed', () => {
    const again = new BatchBuilder(fx.index, fx.bundle, OPTS);
    for (const b of batches.slice(0, 3)) {
      const c = again.next();
      for (const f of ['ids', 'roles', 'docs', 'positions', 'targetIndices', 'targets', 'actionEndIndex', 'goalEndIndex', 'goalOf', 't', 'T', 'imageSlots'] as const) {
        expect(Array.from(c[f]), f).toEqual(Array.from(b[f]));
      }
    }
    const other = new BatchBuilder(fx.index, fx.bundle, { ...OPTS, seed: 12 }).next();
    expect(Array.from(other.sampleIds)).not.toEqual(Array.from(batches[0].sampleIds));
  });

  it('feeds the model forward and the engine check with the same field names', () => {
    const b = batches[0];
    // Compile-time: a PackedBatch is a ModelBatch and carries every field of the engine check's batch.
    const model: ModelBatch = b;
    const tiny: Omit<TinyPackedBatch, 'patchFeatures'> = b;
    expect(model.n).toBe(tiny.ids.length);
    const withFeatures: TinyPackedBatch = { ...b, patchFeatures: scatterSlots(b, new Float32Array(b.imageSlots.length * 3), 3) };
    expect(withFeatures.patchFeatures.length).toBe(b.n * 3);
  });

  it('rejects inconsistent options, naming the field', () => {
    const samples = [0, 1].map((i) => fx.index.sample(i));
    const base = { maxTokens: 160, tile: 32, gamma: 0.9, imagePatches: PATCHES };
    expect(() => buildBatch(samples, fx.bundle, { ...base, gamma: 0 })).toThrow(/gamma must be in \(0, 1\]/);
    expect(() => buildBatch(samples, fx.bundle, { ...base, imagePatches: [4, 4] })).toThrow(/1 camera frames, but imagePatches lists 2 cameras/);
    expect(() => buildBatch(samples, fx.bundle, { ...base, maxTokens: 20 })).toThrow(/more than maxTokens = 20/);
    expect(() => buildBatch(samples, fx.bundle, { ...base, tile: 16 })).toThrow(/tile 16 is not supported/);
    expect(() => buildBatch([], fx.bundle, base)).toThrow(/no samples/);
    expect(() => new BatchBuilder(fx.index, fx.bundle, { ...OPTS, imagePatches: [] })).toThrow(/imagePatches lists 0 cameras, the sample index has 1 \(agentview\)/);
  });
});
