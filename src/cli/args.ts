/**
 * Command-line parsing: global options anywhere on the line, the command
 * name (the first word), then the command's own options and positional
 * arguments. `--opt value` and `--opt=value` both work; `--` ends the
 * options. Anything unknown is a UsageError naming it.
 */
import { UsageError } from './exit-codes';

export interface OptionSpec {
  name: string;
  /** Placeholder of the value (e.g. 'DIR'); absent for a flag. */
  value?: string;
  /** May be given several times (values accumulate). */
  repeatable?: boolean;
  short?: string;
  help: string;
}

export interface ParsedArgs {
  command: string | null;
  positional: string[];
  /** Values per option name (a flag holds one empty string). */
  options: Map<string, string[]>;
}

/** `commandOptions(name)`: the options of a known command, null for an unknown one. */
export function parseArgs(argv: readonly string[], globals: readonly OptionSpec[], commandOptions: (command: string) => readonly OptionSpec[] | null): ParsedArgs {
  const options = new Map<string, string[]>();
  const positional: string[] = [];
  let command: string | null = null;
  let specs: readonly OptionSpec[] = globals;
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (onlyPositional || a === '-' || !a.startsWith('-')) {
      if (command === null) {
        const own = commandOptions(a);
        if (own === null) throw new UsageError(`Unknown command "${a}"`);
        command = a;
        specs = [...globals, ...own];
      } else positional.push(a);
      continue;
    }
    if (a === '--') {
      onlyPositional = true;
      continue;
    }
    const long = a.startsWith('--');
    const eq = long ? a.indexOf('=') : -1;
    const name = long ? a.slice(2, eq === -1 ? undefined : eq) : a.slice(1);
    const spec = specs.find((s) => (long ? s.name === name : s.short === name));
    if (!spec) throw new UsageError(`Unknown option ${a.slice(0, eq === -1 ? undefined : eq)}${command ? ` for "${command}"` : ''}`);
    let value = '';
    if (spec.value) {
      if (eq !== -1) value = a.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i];
      else throw new UsageError(`--${spec.name} needs a value (${spec.value})`);
      if (value === '') throw new UsageError(`--${spec.name} needs a value (${spec.value})`);
    } else if (eq !== -1) throw new UsageError(`--${spec.name} takes no value`);
    const list = options.get(spec.name) ?? [];
    if (list.length && !spec.repeatable && spec.value) throw new UsageError(`--${spec.name} given more than once`);
    list.push(value);
    options.set(spec.name, list);
  }
  return { command, positional, options };
}
