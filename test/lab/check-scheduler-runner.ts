import { CheckScheduler } from '../../src/check/check-scheduler.ts';
import { scheduledServers } from '../../src/check/real-server-checks.ts';
import { loadRepository } from '../../src/config/load-repository.ts';
import { viewOf } from '../../src/model/repository-views.ts';
import { systemClock, systemTimers } from '../../src/vrrp/instance-timers.ts';

// Runs the health checks of one node of a repository inside a network namespace, as the
// agent runs them (real timers, real clock, the scheduler over scheduledServers of the
// node's view), for check-tcp-http-smtp.test.ts: `ip netns exec NS node --import tsx
// check-scheduler-runner.ts FILES-JSON NODE`, FILES-JSON an object of path → text.
// Prints `READY <real servers>` once the checks are loaded, then `FACT <json>` per fact.
// On SIGTERM the scheduler stops and the process must end by itself: nothing left behind.

const files = new Map(Object.entries(JSON.parse(process.argv[2] ?? '{}') as Record<string, string>));
const node = process.argv[3] ?? '';
const loaded = loadRepository(files);
const view = loaded.repository && viewOf(loaded.repository, node);
if (!view) {
  process.stderr.write(`cannot load the repository for ${node}: ${JSON.stringify(loaded.diagnostics)}\n`);
  process.exit(2);
}
const scheduler = new CheckScheduler({
  timers: systemTimers(),
  clock: systemClock,
  onFact: (fact) => process.stdout.write(`FACT ${JSON.stringify(fact)}\n`),
});
const servers = scheduledServers(view);
scheduler.update(servers);
process.stdout.write(`READY ${servers.length}\n`);
process.once('SIGTERM', () => scheduler.stop());
