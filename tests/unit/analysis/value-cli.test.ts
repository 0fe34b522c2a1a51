import { describe, expect, it } from 'vitest';
import { autoWrongInstruction, selectEpisodes, valueCurveSvg } from '../../../src/analysis/cli/value-lib';

describe('value CLI helpers', () => {
  it('selects episodes by index and by init_index', () => {
    const eps = [0, 1, 2, 3].map((i) => ({ index: i, meta: { init_index: i % 2 } }));
    expect(selectEpisodes(eps, null, null)).toEqual([0, 1, 2, 3]);
    expect(selectEpisodes(eps, null, [1])).toEqual([1, 3]);
    expect(selectEpisodes(eps, [0, 1, 2], [0])).toEqual([0, 2]);
    expect(() => selectEpisodes(eps, [9], null)).toThrow(/does not exist/);
  });

  it('picks the next different task as the wrong instruction', () => {
    expect(autoWrongInstruction(['a', 'b', 'c'], 'a')).toBe('b');
    expect(autoWrongInstruction(['a', 'b', 'c'], 'c')).toBe('a');
    expect(autoWrongInstruction(['a', 'b'], 'zzz')).toBe('b');
    expect(() => autoWrongInstruction(['a'], 'a')).toThrow(/single task/);
  });

  it('writes a standalone SVG with both curves and escaped labels', () => {
    const svg = valueCurveSvg({ t: [0, 1, 2], vTrue: [0.1, 0.2, 0.3], vWrong: [0, 0, 0], instruction: 'put <a> & b', wrongInstruction: 'x', metrics: { fracTrueAbove: 1, spearmanTime: 1 } });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(2);
    expect(svg).toContain('put &lt;a&gt; &amp; b');
    expect(svg).not.toContain('NaN');
  });
});
