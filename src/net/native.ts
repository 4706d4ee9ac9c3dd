/**
 * Loads Hyperswarm and its native addons on first use, not at import: on a
 * platform without prebuilt binaries `require` throws ('Cannot find addon',
 * or a glibc version error), and the engine must still load and run
 * offline. Every failure becomes a NetworkUnavailableError.
 */
import { NetworkUnavailableError } from './errors';
import type { DhtConstructor, ProtomuxStatic, Sodium, SwarmConstructor } from './hyperswarm-types';

export interface NetModules {
  Hyperswarm: SwarmConstructor;
  DHT: DhtConstructor;
  Protomux: ProtomuxStatic;
}

let modules: NetModules | null = null;
let sodium: Sodium | null = null;

export function loadNetModules(): NetModules {
  if (modules) return modules;
  try {
    modules = {
      Hyperswarm: require('hyperswarm') as SwarmConstructor,
      DHT: require('hyperdht') as DhtConstructor,
      Protomux: require('protomux') as ProtomuxStatic,
    };
  } catch (e) {
    throw new NetworkUnavailableError(e);
  }
  return modules;
}

export function loadSodium(): Sodium {
  if (sodium) return sodium;
  try {
    sodium = require('sodium-native') as Sodium;
  } catch (e) {
    throw new NetworkUnavailableError(e);
  }
  return sodium;
}
