import { describe, expect, test } from 'vitest';
import { applyPerturbation, getInitState, getTask, PERTURBATION_KINDS, samplePerturbation, type EpisodeConfig, type PerturbationKind } from '../../../src/sim';

// Which parts of the episode configuration each axis may change.
type Part = 'goal' | 'instruction' | 'objects' | 'table' | 'initObjects' | 'arm' | 'drawers' | 'agentView' | 'lighting' | 'background' | 'imageNoise' | 'proprioNoise';
const CLAIMS: Record<PerturbationKind, Part[]> = {
  position_swap: ['initObjects'],
  novel_task: ['goal', 'instruction'],
  paraphrase: ['instruction'],
  lighting: ['lighting'],
  camera: ['agentView'],
  sensor_noise: ['imageNoise', 'proprioNoise'],
  table_color: ['table'],
  background: ['background'],
  robot_init: ['arm'],
  distractors: ['objects', 'initObjects'],
};

function parts(c: EpisodeConfig): Record<Part, string> {
  return {
    goal: JSON.stringify(c.goal),
    instruction: c.instruction,
    objects: JSON.stringify(c.scene.objects),
    table: JSON.stringify(c.scene.tableRgb),
    initObjects: JSON.stringify(c.init.objects),
    arm: JSON.stringify(c.init.arm),
    drawers: JSON.stringify(c.init.drawers),
    agentView: JSON.stringify(c.agentView),
    lighting: JSON.stringify(c.lighting),
    background: JSON.stringify(c.background),
    imageNoise: String(c.imageNoiseStd),
    proprioNoise: String(c.proprioNoiseStd),
  };
}

describe('perturbations', () => {
  for (const id of ['goal/red_on_plate', 'spatial/left', 'long/yellow_tray_red_plate', 'reach/touch_blue']) {
    test(`each axis changes what it claims and nothing else (${id})`, () => {
      const task = getTask(id);
      const init = getInitState(task, 7);
      const nominal = parts(applyPerturbation(task, init, null));
      for (const kind of PERTURBATION_KINDS) {
        const p = samplePerturbation(task, init, [kind], 11);
        const got = parts(applyPerturbation(task, init, p));
        for (const part of Object.keys(nominal) as Part[]) {
          const claimed = CLAIMS[kind].includes(part);
          if (claimed) expect(got[part], `${kind} should change ${part}`).not.toBe(nominal[part]);
          else expect(got[part], `${kind} must not change ${part}`).toBe(nominal[part]);
        }
      }
    });
  }

  test('records are reproducible from the seed and differ across seeds', () => {
    const task = getTask('goal/blue_in_tray');
    const init = getInitState(task, 3);
    const kinds = [...PERTURBATION_KINDS];
    const a = samplePerturbation(task, init, kinds, 5);
    expect(samplePerturbation(task, init, kinds, 5)).toEqual(a);
    expect(samplePerturbation(task, init, kinds, 6)).not.toEqual(a);
    // JSON round trip: the record is what gets logged with the episode.
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    // Adding an axis does not change another axis's draw.
    expect(samplePerturbation(task, init, ['lighting'], 5).lighting).toEqual(a.lighting);
  });

  test('position swap exchanges the two objects\' places; novel task retargets goal and instruction', () => {
    const task = getTask('goal/red_on_plate');
    const init = getInitState(task, 2);
    const p = samplePerturbation(task, init, ['position_swap', 'novel_task'], 3);
    const { a, b } = p.positionSwap!;
    const cfg = applyPerturbation(task, init, p);
    expect(cfg.init.objects[a].pos.slice(0, 2)).toEqual(init.objects[b].pos.slice(0, 2));
    expect(cfg.init.objects[b].pos.slice(0, 2)).toEqual(init.objects[a].pos.slice(0, 2));
    expect(cfg.goal[0].args[0]).not.toBe(task.goal[0].args[0]);
    expect(cfg.goal[0].args[1]).toBe(task.goal[0].args[1]);
    expect(cfg.instruction).toContain('blue can');
  });

  test('reach suite: novel task touches another block and says so; a paraphrase keeps the block', () => {
    const task = getTask('reach/touch_red');
    for (let seed = 0; seed < 20; seed++) {
      const init = getInitState(task, seed % 10);
      const p = samplePerturbation(task, init, ['novel_task', 'paraphrase'], seed);
      const cfg = applyPerturbation(task, init, p);
      expect(cfg.goal).toHaveLength(1);
      expect(cfg.goal[0].pred).toBe('Touch');
      expect(cfg.goal[0].args[0]).not.toBe('red_block');
      const color = cfg.goal[0].args[0].replace('_block', '');
      expect(p.novelTask!.instruction).toBe(`touch the ${color} block`);
      expect(cfg.instruction).not.toBe(p.novelTask!.instruction);
      expect(cfg.instruction).toContain(`the ${color} block`);
    }
  });

  test('bad input names the problem', () => {
    const task = getTask('goal/open_drawer');
    const init = getInitState(task, 0);
    expect(() => samplePerturbation(task, init, ['wind' as PerturbationKind], 1)).toThrow(/unknown perturbation kind 'wind'/);
    expect(() => getInitState(task, 1000)).toThrow(/index must be an integer in \[0, 1000\), got 1000/); // 50-999 are training-only states
    expect(() => getTask('goal/fly')).toThrow(/unknown task 'goal\/fly'/);
  });
});
