/**
 * V8 limits for the thread or process that runs the engine. A small young
 * generation (4 MiB semi-spaces instead of Node's 16 MiB) costs little
 * throughput (bench:store: apply and commit rates within noise) and keeps
 * ~40 MB off the engine's peak memory at a million entries, where sql.js
 * holds the database and, while snapshotting, one copy of it.
 */
export const ENGINE_SEMI_SPACE_MB = 4;

/** For `new Worker(..., { resourceLimits })`: young generation = 3 semi-spaces. */
export const ENGINE_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 3 * ENGINE_SEMI_SPACE_MB } as const;

/** For an engine running as its own Node process (the CLI peer, benchmarks). */
export const ENGINE_NODE_FLAGS = [`--max-semi-space-size=${ENGINE_SEMI_SPACE_MB}`] as const;
