/**
 * The registry of syncable models: one description per model (name, table,
 * device-owned or shared, dependencies, codec, apply, query-since), and the
 * only place the engine looks models up. See models/catalog.ts.
 */
import { MODELS } from '../models/catalog';
import type { DeviceOwnedModel, Model, ModelName, SharedModel } from '../models/model';

export class UnknownModelError extends Error {
  readonly code = 'ERR_UNKNOWN_MODEL';
  constructor(readonly model: string) {
    super(`Unknown model "${String(model).slice(0, 64)}"`);
    this.name = 'UnknownModelError';
  }
}

export class ModelKindError extends Error {
  readonly code = 'ERR_MODEL_KIND';
  constructor(model: string, expected: 'device-owned' | 'shared') {
    super(`Model "${model}" is not ${expected}: use the ${expected === 'shared' ? 'device-owned' : 'shared'} path for it`);
    this.name = 'ModelKindError';
  }
}

export class Registry {
  private readonly byName = new Map<string, Model>();
  /** Models in dependency order. */
  readonly all: readonly Model[];
  readonly deviceOwned: readonly DeviceOwnedModel[];
  readonly shared: readonly SharedModel[];

  constructor(models: readonly Model[]) {
    const seen = new Set<string>();
    for (const m of models) {
      if (this.byName.has(m.name)) throw new Error(`model ${m.name} registered twice`);
      for (const d of m.dependsOn) {
        if (!seen.has(d)) throw new Error(`model ${m.name} depends on ${d}, which must be registered before it`);
      }
      this.byName.set(m.name, m);
      seen.add(m.name);
    }
    this.all = models;
    this.deviceOwned = models.filter((m): m is DeviceOwnedModel => m.kind === 'device-owned');
    this.shared = models.filter((m): m is SharedModel => m.kind === 'shared');
  }

  has(name: string): name is ModelName {
    return this.byName.has(name);
  }

  get(name: string): Model {
    const m = this.byName.get(name);
    if (!m) throw new UnknownModelError(name);
    return m;
  }

  deviceOwnedModel(name: string): DeviceOwnedModel {
    const m = this.get(name);
    if (m.kind !== 'device-owned') throw new ModelKindError(name, 'device-owned');
    return m;
  }

  sharedModel(name: string): SharedModel {
    const m = this.get(name);
    if (m.kind !== 'shared') throw new ModelKindError(name, 'shared');
    return m;
  }
}

export const registry = new Registry(MODELS);
