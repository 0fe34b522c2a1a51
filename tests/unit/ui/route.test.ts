import { describe, expect, test } from 'vitest';
import { enumParam, formatHash, intParam, parseHash, withParams } from '../../../src/ui/lib/route.ts';
import { TABS, findTab } from '../../../src/ui/tabs/registry.ts';

describe('hash routes', () => {
  test('parse a tab with its state', () => {
    expect(parseHash('#/model?preset=tiny&tile=32', 'data')).toEqual({ tab: 'model', params: { preset: 'tiny', tile: '32' } });
    expect(parseHash('', 'data')).toEqual({ tab: 'data', params: {} });
    expect(parseHash('#/', 'data')).toEqual({ tab: 'data', params: {} });
    expect(parseHash('#/robot?token=a%2Bb%26c', 'data')).toEqual({ tab: 'robot', params: { token: 'a+b&c' } });
  });

  test('format -> parse round-trips any state, with sorted keys', () => {
    const route = { tab: 'data', params: { ep: '12', ds: 'spatial demo/ü', t: '3', q: 'a=b&c' } };
    const hash = formatHash(route);
    expect(hash).toBe('#/data?ds=spatial+demo%2F%C3%BC&ep=12&q=a%3Db%26c&t=3');
    expect(parseHash(hash, 'x')).toEqual(route);
  });

  test('withParams sets, stringifies and removes', () => {
    const r = withParams({ tab: 'model', params: { preset: 'tiny', tile: '32' } }, { tile: 64, preset: null, docs: 3, x: undefined });
    expect(r).toEqual({ tab: 'model', params: { tile: '64', docs: '3' } });
    expect(formatHash(r)).toBe('#/model?docs=3&tile=64');
  });

  test('params are read defensively', () => {
    expect(intParam({ a: '7' }, 'a', 1, 0, 10)).toBe(7);
    expect(intParam({ a: '70' }, 'a', 1, 0, 10)).toBe(10);
    expect(intParam({ a: 'x' }, 'a', 1, 0, 10)).toBe(1);
    expect(intParam({}, 'a', 1, 0, 10)).toBe(1);
    expect(enumParam({ j: 'cpu-mlp' }, 'j', ['cpu-mlp', 'tinycheck'] as const, 'tinycheck')).toBe('cpu-mlp');
    expect(enumParam({ j: 'evil' }, 'j', ['cpu-mlp', 'tinycheck'] as const, 'tinycheck')).toBe('tinycheck');
  });

  test('the registry lists the tabs with unique ids in order', () => {
    expect(TABS.map((t) => t.id)).toEqual(['data', 'model', 'train', 'sim', 'value', 'embeddings', 'robot']);
    expect(findTab('train')?.label).toBe('Train');
    expect(findTab('nope')).toBeUndefined();
  });
});

describe('token links', () => {
  test('the server link form #token=... is adopted into the session and routed to a tab', async () => {
    const store = new Map<string, string>();
    (globalThis as { sessionStorage?: unknown }).sessionStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
    };
    const { adoptTokenFromHash, useSessionStore } = await import('../../../src/ui/stores/session.ts');
    expect(adoptTokenFromHash('#/model?preset=tiny')).toBeNull();
    expect(adoptTokenFromHash('#token=abc%2Bdef')).toBe('#/data');
    expect(useSessionStore.getState().token).toBe('abc+def');
    expect(JSON.parse(store.get('prts.session.v1')!).state.token).toBe('abc+def');
  });
});
