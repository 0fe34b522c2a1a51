/** Running the PyTorch twin from the twin tests: exit code and output, and the last JSON line. */
import { runTwin } from '../../../src/twin/python.ts';

export async function twin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runTwin(args, { onStdout: (s) => (out += s), onStderr: (s) => (err += s) });
  return { code, out, err };
}

export const lastJson = (s: string) => JSON.parse(s.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? 'null');
