/** Help text: the command list, and one command's synopsis, description and options. */
import type { OptionSpec } from './args';
import type { Command } from './command';
import { GLOBAL_OPTIONS } from './global-options';

const EXIT_CODES = [
  'Exit codes: 0 ok, 1 error, 2 usage, 3 in use (a service already runs, or a library is locked), 4 not found,',
  '5 pairing failed, 6 unsafe (the data directory or the control socket belongs to another user or others can write to it).',
].join('\n');

export function generalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => synopsis(c).length)) + 2;
  return [
    'Usage: leaderless <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${synopsis(c).padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    EXIT_CODES,
    'Run "leaderless <command> --help" for what a command does and its options.',
    '',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  const own = c.options ?? [];
  const flags = own.map((o) => `[--${o.name}${o.value ? ` ${o.value}` : ''}]`).join(' ');
  return [
    `Usage: leaderless ${c.name}${c.args ? ` ${c.args}` : ''}${flags ? ` ${flags}` : ''} [global options]`,
    '',
    c.summary + '.',
    ...(c.description ? ['', c.description] : []),
    ...(own.length ? ['', 'Options:', ...optionLines(own)] : []),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function synopsis(c: Command): string {
  return c.args ? `${c.name} ${c.args}` : c.name;
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const label = (o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...options.map((o) => label(o).length)) + 2;
  return options.map((o) => `  ${label(o).padEnd(width)}${o.help}`);
}
