/** Every CLI command, in the order `leaderless help` lists them. */
import type { Command } from '../command';
import { addLocation } from './add-location';
import { album } from './album';
import { demo } from './demo';
import { helpCommand } from './help';
import { init } from './init';
import { libraries } from './libraries';
import { note } from './note';
import { invite, join, members, unpair } from './pairing';
import { serve } from './serve';
import { status } from './status';
import { tag, untag } from './tag';
import { tags } from './tags';

export const COMMANDS: readonly Command[] = [
  init,
  libraries,
  status,
  serve,
  invite,
  join,
  members,
  unpair,
  addLocation,
  tag,
  untag,
  tags,
  note,
  album,
  demo,
  helpCommand(() => COMMANDS),
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
