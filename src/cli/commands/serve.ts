/**
 * `leaderless serve`: runs the engine service for the data directory in
 * the foreground (an always-on peer), with its control socket so other
 * commands act through it. Log lines go to stderr, timestamped. SIGINT or
 * SIGTERM stops it cleanly: control socket closed, sync stopped, swarm
 * left, libraries closed; the process then exits by itself with status 0.
 * A second signal while stopping exits at once (130).
 */
import { EngineService } from '../../service/engine-service';
import { serveControl } from '../../service/serve-control';
import type { Command } from '../command';
import { formatDays, parseDaysOption } from '../days';

export const serve: Command = {
  name: 'serve',
  summary: 'Run the sync engine in the foreground (Ctrl-C stops it)',
  description: [
    'Opens every library in the data directory, joins the swarm and syncs with their',
    'partners until stopped; other leaderless commands go through it meanwhile (control',
    `socket in the data directory). Logs to stderr. Stops cleanly on SIGINT or SIGTERM`,
    '(exit 0). If peer networking cannot start here, it keeps running offline and says why.',
    'Exits with 3 if a service already runs for the data directory.',
    'The peer log keeps shared changes until every partner acknowledged them; a partner not',
    'heard from for --prune-absent-after days stops holding it back, and gets a snapshot',
    'when it returns ("leaderless status" shows what each partner holds back, and until when).',
  ].join('\n'),
  options: [
    { name: 'offline', help: 'do not join the swarm (serve the libraries locally only)' },
    { name: 'prune-absent-after', value: 'DAYS', help: 'a partner not heard from for this many days stops holding the peer log back (default 30)' },
  ],
  async run(ctx) {
    const pruneAbsentAfterMs = parseDaysOption('prune-absent-after', ctx.option('prune-absent-after'));
    const log = (line: string) => ctx.err.write(`${new Date().toISOString()} ${line}\n`);
    // Listening from the start: a signal during startup stops the service as soon as it is up.
    const stop = stopSignal(() => {
      log('stopping now (second signal)');
      process.exit(130);
    });
    const service = await EngineService.start({
      dataDir: ctx.globals.dataDir,
      bootstrap: ctx.globals.bootstrap,
      network: !ctx.flag('offline'),
      pruneAbsentAfterMs,
      log,
    });
    let control;
    try {
      control = await serveControl(service, { log });
    } catch (e) {
      await service.close();
      throw e;
    }
    const n = service.libraries().length;
    log(`serving ${ctx.globals.dataDir}: ${n} librar${n === 1 ? 'y' : 'ies'}${n === 0 ? ' (create one with "leaderless init")' : ''}; control socket ${control.endpoint}; pid ${process.pid}`);
    const horizon = service.pruneAbsentAfterMs;
    if (horizon !== null) log(`a partner not heard from for ${formatDays(horizon)} stops holding the peer log back`);
    const signal = await stop;
    log(`${signal}: stopping`);
    await control.close();
    await service.close();
    log('stopped');
    return 0;
  },
};

/** Resolves with the first SIGINT or SIGTERM; a second one calls `again`. */
function stopSignal(again: () => void): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const on = (signal: NodeJS.Signals) => {
      if (stopping) return again();
      stopping = true;
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
