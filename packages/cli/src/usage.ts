/**
 * Wrong usage, said the CLI's way: oclif's parse errors turned into one short problem each
 * (`missing flag --role <app|admin>`), and the usage line that goes with them. Pure: no output.
 */
import type { Command } from '@oclif/core/command';
import { closest } from './suggest.js';

/** What a usage line needs of a command class (its static args and flags). */
export interface CommandShape {
  readonly args?: Command.Class['args'];
  readonly flags?: Command.Class['flags'];
  readonly baseFlags?: Command.Class['baseFlags'];
  readonly enableJsonFlag?: boolean;
}

interface FlagLike {
  readonly type?: string;
  readonly required?: boolean;
  readonly hidden?: boolean;
  readonly helpValue?: string | string[];
  readonly options?: readonly string[];
}

/** `--role <app|admin>`, `--name <name>`, `--yes`: a flag as it is typed. */
export function flagSyntax(name: string, flag: FlagLike): string {
  if (flag.type === 'boolean') return `--${name}`;
  const help = Array.isArray(flag.helpValue) ? flag.helpValue.join(' ') : flag.helpValue;
  const value = help ?? (flag.options?.length ? `<${flag.options.join('|')}>` : '<value>');
  return `--${name} ${value.startsWith('<') ? value : `<${value}>`}`;
}

function allFlags(command: CommandShape): Record<string, FlagLike> {
  return { ...(command.baseFlags ?? {}), ...(command.flags ?? {}) };
}

/**
 * `totp-admin verify <userId> <code> [flags]`: the arguments and the required flags, which are
 * what a wrong call most often lacks; the optional flags are left to `--help`.
 */
export function usageLine(bin: string, id: string, command: CommandShape): string {
  const args = Object.entries(command.args ?? {}).map(([name, arg]) => (arg.required ? `<${name}>` : `[<${name}>]`));
  const flags = Object.entries(allFlags(command)).filter(([, flag]) => !flag.hidden);
  const required = flags.filter(([, flag]) => flag.required).map(([name, flag]) => flagSyntax(name, flag));
  const optional = flags.filter(([, flag]) => !flag.required).map(([name]) => `--${name}`);
  if (command.enableJsonFlag) optional.push('--json');
  const rest = optional.length === 0 ? [] : optional.length === 1 ? [`[${optional[0]}]`] : ['[flags]'];
  return [bin, ...id.split(':'), ...args, ...required, ...rest].join(' ');
}

/** The parse context oclif attaches to its parse errors. */
interface ParseContext {
  readonly input?: { readonly flags?: Record<string, FlagLike> };
  readonly output?: { readonly flags?: Record<string, unknown> };
}

/** An oclif parse error, by the fields its classes carry (they are not all exported). */
export interface ParseErrorLike {
  readonly message: string;
  readonly parse?: ParseContext;
  readonly args?: readonly { readonly name?: string }[];
  readonly flags?: readonly string[];
}

// eslint-disable-next-line no-control-regex -- ANSI colour sequences start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Each thing wrong with a call, as its own short line: every missing argument and every missing
 * required flag (oclif reports the arguments first and the flags only on a second try, so both
 * are gathered here), an unknown flag with the nearest real one, or oclif's reasons reworded.
 */
export function parseProblems(error: ParseErrorLike, command: CommandShape): string[] {
  const flags = allFlags(command);
  if (isList(error.args) && /^Missing \d+ required arg/.test(error.message)) {
    const given = error.parse?.output?.flags ?? {};
    const missingFlags = Object.entries(error.parse?.input?.flags ?? {})
      .filter(([name, flag]) => flag.required && given[name] === undefined)
      .map(([name, flag]) => `missing flag ${flagSyntax(name, flag)}`);
    return [...error.args.map((arg) => `missing argument <${arg.name ?? 'argument'}>`), ...missingFlags];
  }
  if (isList(error.flags) && /^Nonexistent flag/.test(error.message)) {
    const known = [...Object.keys(flags).map((name) => `--${name}`), ...(command.enableJsonFlag ? ['--json'] : [])];
    return error.flags.map((typed) => {
      const name = typed.split('=')[0]!;
      const meant = name.startsWith('--') ? closest(name, known) : undefined;
      return meant ? `unknown flag ${name}; did you mean ${meant}?` : `unknown flag ${name}`;
    });
  }
  return error.message
    .replace(ANSI, '')
    .replace(/See more help with --help/gi, '')
    .replace(/^The following errors? occurred:/i, '')
    .split('\n')
    .map((line) => reword(line.trim(), flags))
    .filter((line) => line !== '');
}

/**
 * Whether a field of the error really holds a list (the error is only duck-typed); unlike a bare
 * Array.isArray, which widens a readonly array to any[], this keeps the element type.
 */
function isList<T>(value: readonly T[] | undefined): value is readonly T[] {
  return Array.isArray(value);
}

/** oclif's reasons in the CLI's own voice. */
function reword(reason: string, flags: Record<string, FlagLike>): string {
  return reason
    .replace(/^Missing required flag ([\w-]+)$/, (_m, name: string) => `missing flag ${flags[name] ? flagSyntax(name, flags[name]) : `--${name}`}`)
    .replace(/--([\w-]+)=\S+ cannot also be provided when using --([\w-]+)/g, '--$1 cannot be used with --$2')
    .replace(/^Unexpected arguments?:\s*/i, 'unexpected argument ')
    .replace(/^Expected --([\w-]+)=(.*) to be one of: (.*)$/, '--$1 "$2" must be one of: $3');
}
