/** Every CLI command, in the order `leaderless help` lists them. */
import type { Command } from '../command';
import { demo } from './demo';
import { helpCommand } from './help';
import { init } from './init';
import { libraries } from './libraries';
import { serve } from './serve';
import { status } from './status';

export const COMMANDS: readonly Command[] = [init, libraries, status, serve, demo, helpCommand(() => COMMANDS)];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
