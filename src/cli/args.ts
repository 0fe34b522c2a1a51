/**
 * Command-line options for the CLIs, benchmarks and the server: one declarative spec per
 * program gives the typed values, the checks (unknown options, missing or bad values,
 * each message naming the option) and the --help text, so no entry point parses argv
 * by hand. Built on node:util parseArgs for tokenizing (`--name value`, `--name=value`,
 * `-h`, `--`). Node-only (process.exit, stdout): never import this from browser code.
 *
 * Conventions shared by every program: a bad command line prints `<name>: <problem>` and
 * the synopsis to stderr and exits 2; --help (or -h) prints the usage to stdout and exits
 * 0; a value option given twice is an error, except lists, whose repeats accumulate
 * (`--suites spatial --suites goal` = `--suites spatial,goal`).
 */
import { parseArgs } from 'node:util';

interface Common {
  /** One line for --help. */
  help: string;
  /** Placeholder of the value in usage lines: `dataset dir` shows as `--data <dataset dir>`; one holding `<` shows as written. */
  metavar?: string;
  /** A one-letter alias (`-h`). */
  short?: string;
}
interface Valued<T> extends Common {
  default?: T;
  required?: boolean;
}
export interface StringOption extends Valued<string> {
  type: 'string';
  choices?: readonly string[];
}
export interface IntOption extends Valued<number> {
  type: 'int';
  min?: number;
  max?: number;
  choices?: readonly number[];
}
export interface NumberOption extends Valued<number> {
  type: 'number';
  min?: number;
  /** Exclusive lower bound: the value must be greater than this. */
  above?: number;
  max?: number;
  choices?: readonly number[];
}
export interface BooleanOption extends Common {
  type: 'boolean';
}
/** Comma-separated items (`a,b,c`), trimmed, empty items dropped. */
export interface ListOption extends Valued<readonly (string | number)[]> {
  type: 'list';
  of?: 'string' | 'int' | 'number';
  choices?: readonly (string | number)[];
  /** Bounds of each numeric item. */
  min?: number;
  max?: number;
}
/** Non-negative integer indices and inclusive ranges: `0-3,7` -> [0, 1, 2, 3, 7], each once, in the order given. */
export interface RangeOption extends Valued<readonly number[]> {
  type: 'range';
  min?: number;
  max?: number;
  /** Accept the word `all`, which means the same as leaving the option out. */
  all?: boolean;
}
export type OptionSpec = StringOption | IntOption | NumberOption | BooleanOption | ListOption | RangeOption;
export type OptionSpecs = Record<string, OptionSpec>;

type Item<O> = O extends { type: 'boolean' }
  ? boolean
  : O extends { type: 'range' }
    ? number[]
    : O extends { type: 'list' }
      ? O extends { of: 'int' | 'number' }
        ? number[]
        : O extends { choices: readonly (infer C)[] }
          ? C[]
          : string[]
      : O extends { choices: readonly (infer C)[] }
        ? C
        : O extends { type: 'int' | 'number' }
          ? number
          : string;
type Value<O> = O extends { type: 'boolean' } ? boolean : O extends { default: unknown } | { required: true } ? Item<O> : Item<O> | undefined;
/** The parsed values, keyed by option name as written (`values['log-every']`). */
export type Values<S extends OptionSpecs> = { -readonly [K in keyof S]: Value<S[K]> };

/** A bad command line; `message` names the option and the problem. */
export class ArgsError extends Error {
  override name = 'ArgsError';
}

const HELP: BooleanOption = { type: 'boolean', short: 'h', help: 'print this help and exit' };

/**
 * Parses `argv` (no program name) against `specs`. Throws ArgsError on a bad command
 * line; `help` is true when --help/-h was given (the values are then not checked).
 */
export function parseOptions<const S extends OptionSpecs>(specs: S, argv: readonly string[]): { values: Values<S>; help: boolean } {
  const all: OptionSpecs = { help: HELP, ...specs };
  const nodeOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries(all)) nodeOptions[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  // Non-strict so that a negative number can follow its option (`--seed -1`); the checks
  // strict mode would make are done below, with messages that name the option.
  const { tokens } = parseArgs({ args: [...argv], options: nodeOptions, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { values: {} as Values<S>, help: true };

  const raw = new Map<string, string[]>();
  const flags = new Set<string>();
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') throw new ArgsError(`unexpected argument '${t.value}'`);
    const spec = Object.hasOwn(all, t.name) ? all[t.name] : undefined;
    if (!spec) throw new ArgsError(`unknown option ${t.rawName} (options: ${Object.keys(all).map((n) => `--${n}`).join(' ')})`);
    const flag = `--${t.name}`;
    if (spec.type === 'boolean') {
      if (t.value !== undefined) throw new ArgsError(`${flag} takes no value, got '${t.value}'`);
      flags.add(t.name);
      continue;
    }
    // parseArgs (non-strict) would take the next option as the value: `--seed --out x`.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))) throw new ArgsError(`${flag} needs a value`);
    const seen = raw.get(t.name) ?? [];
    if (seen.length && spec.type !== 'list' && spec.type !== 'range') throw new ArgsError(`${flag} is given more than once ('${seen[0]}', '${t.value}')`);
    raw.set(t.name, [...seen, t.value]);
  }

  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type === 'boolean') {
      values[name] = flags.has(name);
      continue;
    }
    const given = raw.get(name);
    if (given === undefined) {
      if (spec.required) throw new ArgsError(`--${name} ${metavar(spec)} is required`);
      values[name] = spec.default === undefined ? undefined : Array.isArray(spec.default) ? [...spec.default] : spec.default;
      continue;
    }
    values[name] = convert(name, spec, given);
  }
  return { values: values as Values<S>, help: false };
}

function convert(name: string, spec: Exclude<OptionSpec, BooleanOption>, given: string[]): unknown {
  const flag = `--${name}`;
  switch (spec.type) {
    case 'string':
      checkChoice(flag, spec.choices, given[0], given[0]);
      return given[0];
    case 'int':
    case 'number': {
      const n = toNumber(flag, spec, given[0]);
      checkChoice(flag, spec.choices, n, given[0]);
      return n;
    }
    case 'list': {
      const items = given.flatMap((g) => g.split(',')).map((s) => s.trim()).filter((s) => s !== '');
      if (!items.length) throw new ArgsError(`${flag} needs at least one item, got '${given.join(',')}'`);
      const of = spec.of ?? 'string';
      return items.map((s) => {
        const v = of === 'string' ? s : toNumber(flag, { type: of, min: spec.min, max: spec.max }, s);
        checkChoice(flag, spec.choices, v, s);
        return v;
      });
    }
    case 'range':
      if (spec.all && given.includes('all')) {
        if (given.length > 1) throw new ArgsError(`${flag} all cannot be combined with indices`);
        return spec.default === undefined ? undefined : [...spec.default];
      }
      try {
        return parseRanges(given.join(','), spec.min ?? 0, spec.max ?? Infinity);
      } catch (e) {
        throw new ArgsError(`${flag}: ${(e as Error).message}`);
      }
  }
}

type Numeric = Pick<IntOption, 'min' | 'max'> & { type: 'int' | 'number'; above?: number };

function toNumber(flag: string, spec: Numeric, text: string): number {
  const n = text.trim() === '' ? NaN : Number(text);
  const ok = Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n)) && (spec.min === undefined || n >= spec.min) && (spec.above === undefined || n > spec.above) && (spec.max === undefined || n <= spec.max);
  if (!ok) throw new ArgsError(`${flag} must be ${describeNumber(spec)}, got '${text}'`);
  return n;
}

/** "an integer >= 1", "an integer in [8, 256]", "a number in (0, 1]". */
function describeNumber(spec: Numeric): string {
  const what = spec.type === 'int' ? 'an integer' : 'a number';
  const lo = spec.above ?? spec.min;
  const loBracket = spec.above !== undefined ? '(' : '[';
  if (lo !== undefined && spec.max !== undefined) return `${what} in ${loBracket}${lo}, ${spec.max}]`;
  if (lo !== undefined) return `${what} ${spec.above !== undefined ? '>' : '>='} ${lo}`;
  if (spec.max !== undefined) return `${what} <= ${spec.max}`;
  return what;
}

function checkChoice(flag: string, choices: readonly (string | number)[] | undefined, v: string | number, text: string): void {
  if (!choices || choices.includes(v)) return;
  // Quoted when a choice holds a comma or a space, so that the list still reads as a list.
  const names = choices.some((c) => /[, ]/.test(String(c))) ? choices.map((c) => `'${c}'`) : choices;
  throw new ArgsError(`${flag} must be one of ${names.join(', ')}, got '${text}'`);
}

/**
 * "0-3,7" -> [0, 1, 2, 3, 7]: indices and inclusive ranges within [min, max], each index
 * once, in the order first given. Throws RangeError naming the bad part.
 */
export function parseRanges(spec: string, min = 0, max = Infinity): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!m) throw new RangeError(`'${part}' is not an index or a range like 0-9`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new RangeError(`range '${part}' is empty`);
    if (lo < min || hi > max) throw new RangeError(`'${part}' must lie in ${min}-${max}`);
    for (let i = lo; i <= hi; i++) {
      if (!seen.has(i)) out.push(i);
      seen.add(i);
    }
  }
  return out;
}

function metavar(spec: OptionSpec): string {
  if (spec.type === 'boolean') return '';
  if (spec.metavar) return spec.metavar.includes('<') ? spec.metavar : `<${spec.metavar}>`;
  if (spec.type === 'range') return spec.all ? '<0-3,7|all>' : '<0-3,7>';
  if (spec.choices && inlineChoices(spec)) return `<${spec.choices.join('|')}>`;
  return { string: '<value>', int: '<N>', number: '<X>', list: '<a,b,...>' }[spec.type];
}

/** Whether the choices are the placeholder (`<phi|hidden>`); long lists go to the help line instead, so that usage lines stay short. */
function inlineChoices(spec: OptionSpec): boolean {
  return (spec.type === 'string' || spec.type === 'int' || spec.type === 'number') && !spec.metavar && !!spec.choices && spec.choices.join('|').length <= 30;
}

function usageTerm(name: string, spec: OptionSpec): string {
  const term = spec.type === 'boolean' ? `--${name}` : `--${name} ${metavar(spec)}`;
  return spec.type !== 'boolean' && spec.required ? term : `[${term}]`;
}

/** What the value must be and its default, appended to the option's help line. */
function constraint(spec: OptionSpec): string {
  const parts: string[] = [];
  if (spec.type !== 'boolean' && spec.type !== 'range' && spec.choices && !inlineChoices(spec)) parts.push(`${spec.type === 'list' ? 'any of' : 'one of'} ${spec.choices.join(', ')}`);
  if (spec.type === 'int' || spec.type === 'number') {
    if (!spec.choices) {
      const d = describeNumber(spec);
      if (d.includes(' ')) parts.push(d.replace(/^an? /, ''));
    }
  } else if (spec.type === 'list' && spec.of && spec.of !== 'string') parts.push(`comma-separated ${spec.of === 'int' ? 'integers' : 'numbers'}`);
  else if (spec.type === 'range' && spec.max !== undefined && Number.isFinite(spec.max)) parts.push(`indices in ${spec.min ?? 0}-${spec.max}`);
  if (spec.type !== 'boolean') {
    if (spec.required) parts.push('required');
    else if (spec.default !== undefined) parts.push(`default ${Array.isArray(spec.default) ? spec.default.join(',') || '(none)' : String(spec.default)}`);
  }
  return parts.join('; ');
}

/** The option's help with its constraint, merged into a closing parenthesis of the help if it has one. */
function helpLine(spec: OptionSpec): string {
  const c = constraint(spec);
  if (!c) return spec.help;
  return spec.help.endsWith(')') ? `${spec.help.slice(0, -1)}; ${c})` : `${spec.help} (${c})`;
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

export interface CliSpec<S extends OptionSpecs> {
  /** Prefix of every message: `train: --steps must be ...`. */
  name: string;
  /** How the program is started, e.g. `npm run train --`. */
  command: string;
  /** Paragraph(s) printed by --help under the synopsis. */
  description?: string;
  /** Further synopsis lines for other forms of the command (eval's --compare). */
  forms?: readonly string[];
  options: S;
}

/** One line per form, wrapped at about 110 columns with the continuation indented. */
export function synopsis<S extends OptionSpecs>(cli: CliSpec<S>): string {
  const terms = Object.entries(cli.options).map(([n, o]) => usageTerm(n, o));
  // Required options first, so the shortest working command reads from the left.
  terms.sort((a, b) => Number(a.startsWith('[')) - Number(b.startsWith('[')));
  const lines: string[] = [];
  let line = `usage: ${cli.command}`;
  for (const t of terms) {
    if (line.length + 1 + t.length > 110) {
      lines.push(line);
      line = '        ';
    }
    line += ` ${t}`;
  }
  lines.push(line);
  for (const f of cli.forms ?? []) lines.push(`       ${cli.command} ${f}`);
  return lines.join('\n');
}

/** The full --help text: synopsis, description, one line per option. */
export function usage<S extends OptionSpecs>(cli: CliSpec<S>): string {
  const rows = Object.entries({ ...cli.options, help: HELP }).map(([n, o]) => {
    const names = `${o.short ? `-${o.short}, ` : ''}--${n}${o.type === 'boolean' ? '' : ` ${metavar(o)}`}`;
    return [names, helpLine(o)] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([n]) => n.length)));
  const body = rows.map(([n, h]) => (n.length > width ? `  ${n}\n  ${' '.repeat(width)}  ${h}` : `  ${n.padEnd(width)}  ${h}`));
  return [synopsis(cli), ...(cli.description ? ['', wrap(cli.description, 100)] : []), '', 'options:', ...body].join('\n') + '\n';
}

export interface Cli<S extends OptionSpecs> {
  readonly spec: CliSpec<S>;
  /** Parses argv (default: this process's); on --help prints the usage and exits 0, on a bad command line calls fail. */
  parse(argv?: readonly string[]): Values<S>;
  /** Reports a bad command line (also ones found after parsing, e.g. a missing directory) and exits 2. */
  fail(message: string): never;
}

export function defineCli<const S extends OptionSpecs>(spec: CliSpec<S>): Cli<S> {
  const fail = (message: string): never => {
    process.stderr.write(`${spec.name}: ${message}\n${synopsis(spec)}\n`);
    process.exit(2);
  };
  return {
    spec,
    fail,
    parse(argv = process.argv.slice(2)) {
      let r: { values: Values<S>; help: boolean };
      try {
        r = parseOptions(spec.options, argv);
      } catch (e) {
        if (e instanceof ArgsError) fail(e.message);
        throw e;
      }
      if (r.help) {
        process.stdout.write(usage(spec));
        process.exit(0);
      }
      return r.values;
    },
  };
}
