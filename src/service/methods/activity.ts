/**
 * Control method for what a library's sync did lately (the status
 * webview). In memory of the running service: it starts empty when the
 * service starts. Fields are only ever added.
 *
 *   activity {library?, limit?: number (default 100, max 200)} →
 *     { received: [{at, device, name, model, count}],      changes applied from partners
 *       sent:     [{at, device, name, model, count}],      changes sent to partners (live, and pages served to their catch-up)
 *       refused:  [{at, device, name, reason, skewMs: number|null, origin: string|null, model: string|null}],
 *                 records a partner sent that were refused: stamps too far ahead of this device's clock
 *                 (skewMs: how far; origin: the device that wrote it) or rejected as invalid (skewMs null)
 *       errors:   [{at, message, device: string|null, name: string|null}],   sync errors (device: the partner, if any)
 *       log:      {size, horizon: number|null, origins: [{device, name, pruned}], prunedAt: number|null, prunedEntries} }
 *   Lists are newest first, at most `limit` each (the service keeps the last 200 of each). Consecutive
 *   batches of one partner and model within a second are one entry (a backfill's pages add up).
 *   log.size: shared changes held in the peer log; log.horizon: how many were pruned from it so far (the
 *   sum over origins of the seq each was pruned up to; null: none was); origins: that per origin;
 *   prunedAt / prunedEntries: the last prune by this service and how many entries it removed since it started.
 *   An 'activity' event ({library}) says a list grew, at most 4 times a second.
 */
import type { EngineService } from '../engine-service';
import type { MethodTable } from '../method-table';
import { ACTIVITY_CAPACITY } from '../activity-log';

export function activityMethods(service: EngineService): MethodTable {
  return {
    activity(p) {
      const limit = Math.floor(p.optionalPositive('limit', ACTIVITY_CAPACITY) ?? 100) || 1;
      return service.libraryRunner(p.optionalString('library')).activityReport(limit);
    },
  };
}
