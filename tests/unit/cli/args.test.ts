import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArgsError, defineCli, parseOptions, parseRanges, synopsis, usage, type OptionSpecs } from '../../../src/cli/args';

const SPEC = {
  data: { type: 'string', required: true, metavar: 'dataset dir', help: 'dataset directory' },
  steps: { type: 'int', min: 1, default: 100, help: 'training steps' },
  seed: { type: 'int', default: 0, help: 'seed' },
  lr: { type: 'number', above: 0, max: 1, help: 'learning rate' },
  feature: { type: 'string', choices: ['phi', 'hidden'], default: 'phi', help: 'embedding' },
  'head-dim': { type: 'int', choices: [32, 64], help: 'head width' },
  lengths: { type: 'list', of: 'int', min: 1, default: [512, 1024], help: 'sequence lengths' },
  suites: { type: 'list', choices: ['spatial', 'goal'], help: 'suites' },
  labels: { type: 'list', help: 'panel labels' },
  states: { type: 'range', max: 49, help: 'initial states' },
  episodes: { type: 'range', all: true, help: 'episodes' },
  resume: { type: 'boolean', help: 'continue the run' },
} as const satisfies OptionSpecs;

const parse = (...argv: string[]) => parseOptions(SPEC, argv).values;
const error = (...argv: string[]): string => {
  try {
    parseOptions(SPEC, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ArgsError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('parseOptions', () => {
  it('fills defaults and leaves optional options without one undefined', () => {
    const v = parse('--data', 'd');
    expect(v).toEqual({ data: 'd', steps: 100, seed: 0, lr: undefined, feature: 'phi', 'head-dim': undefined, lengths: [512, 1024], suites: undefined, labels: undefined, states: undefined, episodes: undefined, resume: false });
  });

  it('does not share a default list between parses', () => {
    parse('--data', 'd').lengths.push(7);
    expect(parse('--data', 'd').lengths).toEqual([512, 1024]);
  });

  it('reads --name value and --name=value alike', () => {
    expect(parse('--data', 'x', '--steps', '5').steps).toBe(5);
    expect(parse('--data=x', '--steps=5')).toMatchObject({ data: 'x', steps: 5 });
    expect(parse('--data', 'a=b').data).toBe('a=b');
  });

  it('types ints, numbers, choices and booleans', () => {
    const v = parse('--data', 'd', '--lr', '0.25', '--feature', 'hidden', '--head-dim', '64', '--resume');
    expect(v.lr).toBe(0.25);
    expect(v.feature).toBe('hidden');
    expect(v['head-dim']).toBe(64);
    expect(v.resume).toBe(true);
  });

  it('takes negative numbers as values, separate or inline', () => {
    expect(parse('--data', 'd', '--seed', '-3').seed).toBe(-3);
    expect(parse('--data', 'd', '--seed=-3').seed).toBe(-3);
    expect(error('--data', 'd', '--steps', '-3')).toBe("--steps must be an integer >= 1, got '-3'");
  });

  it('names the option and the bound for bad numbers', () => {
    expect(error('--data', 'd', '--steps', '0')).toBe("--steps must be an integer >= 1, got '0'");
    expect(error('--data', 'd', '--steps', '2.5')).toBe("--steps must be an integer >= 1, got '2.5'");
    expect(error('--data', 'd', '--steps', '')).toBe("--steps must be an integer >= 1, got ''");
    expect(error('--data', 'd', '--seed', 'abc')).toBe("--seed must be an integer, got 'abc'");
    expect(error('--data', 'd', '--lr', '0')).toBe("--lr must be a number in (0, 1], got '0'");
    expect(error('--data', 'd', '--lr', 'Infinity')).toMatch(/^--lr must be a number in \(0, 1\]/);
    expect(error('--data', 'd', '--head-dim', '48')).toBe("--head-dim must be one of 32, 64, got '48'");
    expect(error('--data', 'd', '--feature', 'psi')).toBe("--feature must be one of phi, hidden, got 'psi'");
    expect(() => parseOptions({ rows: { type: 'string', choices: ['task', 'task,phase'], help: '' } }, ['--rows', 'phase'])).toThrow("--rows must be one of 'task', 'task,phase', got 'phase'");
  });

  it('splits lists, checks each item, and accumulates repeats', () => {
    expect(parse('--data', 'd', '--lengths', '64, 128,,256').lengths).toEqual([64, 128, 256]);
    expect(parse('--data', 'd', '--suites', 'spatial', '--suites', 'goal').suites).toEqual(['spatial', 'goal']);
    expect(parse('--data', 'd', '--labels', 'w/ CRL,w/o CRL').labels).toEqual(['w/ CRL', 'w/o CRL']);
    expect(error('--data', 'd', '--lengths', '64,0')).toBe("--lengths must be an integer >= 1, got '0'");
    expect(error('--data', 'd', '--suites', 'spatial,long')).toBe("--suites must be one of spatial, goal, got 'long'");
    expect(error('--data', 'd', '--labels', ',')).toMatch(/--labels needs at least one item/);
  });

  it('expands ranges within bounds, each index once in the order given', () => {
    expect(parse('--data', 'd', '--states', '8-10').states).toEqual([8, 9, 10]);
    expect(parse('--data', 'd', '--states', '5,0-2,1').states).toEqual([5, 0, 1, 2]);
    expect(parse('--data', 'd', '--states', '3', '--states', '1').states).toEqual([3, 1]);
    expect(error('--data', 'd', '--states', '3-1')).toBe("--states: range '3-1' is empty");
    expect(error('--data', 'd', '--states', '40-50')).toBe("--states: '40-50' must lie in 0-49");
    expect(error('--data', 'd', '--states', 'x')).toBe("--states: 'x' is not an index or a range like 0-9");
    expect(error('--data', 'd', '--states', '-1')).toMatch(/--states: '-1' is not an index/);
  });

  it("takes 'all' for a range that allows it, meaning the option's absence", () => {
    expect(parse('--data', 'd', '--episodes', 'all').episodes).toBeUndefined();
    expect(parse('--data', 'd', '--episodes', '2-3').episodes).toEqual([2, 3]);
    expect(error('--data', 'd', '--states', 'all')).toMatch(/--states: 'all' is not an index/);
    expect(error('--data', 'd', '--episodes', 'all', '--episodes', '1')).toBe('--episodes all cannot be combined with indices');
  });

  it('requires required options, naming the placeholder', () => {
    expect(error('--steps', '3')).toBe('--data <dataset dir> is required');
  });

  it('rejects unknown options listing the valid ones, and stray arguments', () => {
    const m = error('--data', 'd', '--step', '3');
    expect(m).toMatch(/^unknown option --step \(options: --help --data --steps --seed /);
    expect(m).toContain('--resume');
    expect(error('-x')).toMatch(/^unknown option -x /);
    expect(error('--data', 'd', 'extra')).toBe("unexpected argument 'extra'");
    expect(error('--data', 'd', '--', '--steps')).toBe("unexpected argument '--steps'");
  });

  it('rejects a missing value, including an option where the value should be', () => {
    expect(error('--data')).toBe('--data needs a value');
    expect(error('--data', '--steps', '3')).toBe('--data needs a value');
    expect(parse('--data=--odd').data).toBe('--odd');
  });

  it('rejects a value option given twice and a value on a flag', () => {
    expect(error('--data', 'a', '--data', 'b')).toBe("--data is given more than once ('a', 'b')");
    expect(error('--data', 'd', '--resume=yes')).toBe("--resume takes no value, got 'yes'");
    expect(parse('--data', 'd', '--resume', '--resume').resume).toBe(true);
  });

  it('reports --help or -h before checking anything else', () => {
    expect(parseOptions(SPEC, ['--bogus', '--help']).help).toBe(true);
    expect(parseOptions(SPEC, ['-h']).help).toBe(true);
    expect(parseOptions(SPEC, ['--data', 'd']).help).toBe(false);
  });
});

describe('parseRanges', () => {
  it('parses indices and inclusive ranges', () => {
    expect(parseRanges('0-3,7')).toEqual([0, 1, 2, 3, 7]);
    expect(parseRanges(' 2 - 4 , 9')).toEqual([2, 3, 4, 9]);
    expect(() => parseRanges('0-3', 1)).toThrow(/must lie in 1-Infinity/);
  });
});

describe('usage text', () => {
  const cli = { name: 'demo', command: 'npm run demo --', description: 'Does a demo.', forms: ['--compare a,b'], options: SPEC } as const;

  it('puts required options first and marks the optional ones', () => {
    const s = synopsis(cli);
    expect(s.startsWith('usage: npm run demo -- --data <dataset dir> [--steps <N>]')).toBe(true);
    expect(s).toContain('[--resume]');
    expect(s).toContain('[--feature <phi|hidden>]');
    expect(s.split('\n').at(-1)).toBe('       npm run demo -- --compare a,b');
    for (const line of s.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
  });

  it('lists every option with its help, bounds and default', () => {
    const u = usage(cli);
    for (const name of [...Object.keys(SPEC), 'help']) expect(u).toContain(`--${name}`);
    expect(u).toContain('Does a demo.');
    expect(u).toMatch(/--steps <N> +training steps \(integer >= 1; default 100\)/);
    expect(u).toMatch(/--lr <X> +learning rate \(number in \(0, 1\]\)/);
    expect(u).toMatch(/--data <dataset dir> +dataset directory \(required\)/);
    expect(u).toMatch(/--lengths <a,b,...> +sequence lengths \(comma-separated integers; default 512,1024\)/);
    expect(u).toMatch(/-h, --help +print this help/);
  });
});

describe('defineCli', () => {
  afterEach(() => vi.restoreAllMocks());

  function run(argv: string[]) {
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw Object.assign(new Error('exit'), { code });
    });
    const cli = defineCli({ name: 'demo', command: 'npm run demo --', options: SPEC });
    try {
      return { values: cli.parse(argv), out, err, code: undefined };
    } catch (e) {
      return { values: undefined, out, err, code: (e as { code?: number }).code };
    }
  }

  it('returns the values of a good command line', () => {
    const r = run(['--data', 'd', '--steps', '2']);
    expect(r.code).toBeUndefined();
    expect(r.values?.steps).toBe(2);
  });

  it('prints the usage to stdout and exits 0 on --help', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: npm run demo --');
    expect(r.out).toContain('options:');
    expect(r.err).toBe('');
  });

  it('prints the problem and the synopsis to stderr and exits 2 on bad input', () => {
    const r = run(['--data', 'd', '--steps', 'x']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe("demo: --steps must be an integer >= 1, got 'x'");
    expect(r.err).toContain('usage: npm run demo --');
    expect(r.out).toBe('');
  });
});
