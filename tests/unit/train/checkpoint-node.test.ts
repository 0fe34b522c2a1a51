import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeCheckpointIO } from '../../../src/train/checkpoint-node';

const dir = mkdtempSync(join(tmpdir(), 'prts-ckpt-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nodeCheckpointIO', () => {
  it('creates a missing run directory for writing', async () => {
    const out = join(dir, 'new-run');
    const io = await nodeCheckpointIO(out);
    expect(existsSync(out)).toBe(true);
    await io.writeFileAtomic('latest.json', new TextEncoder().encode('{}'));
    expect(await io.exists('latest.json')).toBe(true);
  });

  it('with create: false refuses a missing path and leaves nothing behind', async () => {
    const typo = join(dir, 'runs', 'tinyy');
    await expect(nodeCheckpointIO(typo, { create: false })).rejects.toThrow('no such directory or checkpoint archive');
    expect(existsSync(typo)).toBe(false);
    expect(existsSync(join(dir, 'runs'))).toBe(false);
  });

  it('with create: false opens an existing directory', async () => {
    const existing = join(dir, 'existing');
    mkdirSync(existing);
    const io = await nodeCheckpointIO(existing, { create: false });
    expect(await io.exists('latest.json')).toBe(false);
  });
});
