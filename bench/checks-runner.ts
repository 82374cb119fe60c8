import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CheckScheduler } from '../src/check/check-scheduler.ts';
import { checkSockets } from '../src/check/native-sockets.ts';
import { scheduledServers } from '../src/check/real-server-checks.ts';
import { loadRepository } from '../src/config/load-repository.ts';
import { viewOf } from '../src/model/repository-views.ts';
import { systemClock, systemTimers } from '../src/vrrp/instance-timers.ts';

// The checker process bench/checks.ts measures, run in the lab's lb namespace (`ip netns exec
// NS node checks-runner.js FILES-JSON NODE`, FILES-JSON a file holding path → text): the
// node's view of the repository, its scheduledServers, and one CheckScheduler on real timers,
// as the agent runs them — nothing else. Prints READY once loaded; to the line "report" on
// stdin it answers "REPORT <json>": real servers up and down, checks attempted at least
// once, facts so far, and the reasons
// of the checks whose last attempt failed. "exit" stops the scheduler and exits, so that
// node's --cpu-prof writes its profile (a signal would end the process without it).

const [filesPath = '', node = ''] = process.argv.slice(2);
const files = new Map(Object.entries(JSON.parse(readFileSync(filesPath, 'utf8')) as Record<string, string>));
const loaded = loadRepository(files);
const view = loaded.repository && viewOf(loaded.repository, node);
if (!view) {
  process.stderr.write(`cannot load the repository for ${node}: ${JSON.stringify(loaded.diagnostics)}\n`);
  process.exit(2);
}
let facts = 0;
const scheduler = new CheckScheduler({
  timers: systemTimers(),
  clock: systemClock,
  onFact: () => {
    facts++;
  },
});
const servers = scheduledServers(view);
scheduler.update(servers);

const sockets = checkSockets();

function report(): string {
  const snapshot = scheduler.snapshot();
  const reasons: Record<string, number> = {};
  let checks = 0;
  let tried = 0;
  for (const rs of snapshot)
    for (const c of rs.checks) {
      checks++;
      if (c.lastAt !== undefined) tried++;
      if (c.last && !c.last.ok) reasons[c.last.reason] = (reasons[c.last.reason] ?? 0) + 1;
    }
  const up = snapshot.filter((s) => s.up).length;
  return JSON.stringify({
    servers: snapshot.length,
    checks,
    tried,
    up,
    down: snapshot.length - up,
    facts,
    reasons,
    sockets: sockets.native ? 'native' : `node (${sockets.why})`,
  });
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'report') process.stdout.write(`REPORT ${report()}\n`);
  if (line.trim() === 'exit') {
    scheduler.stop();
    process.exit(0);
  }
});
process.stdout.write(`READY ${servers.length}\n`);
