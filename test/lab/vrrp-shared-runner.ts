import { readFileSync } from 'node:fs';
import type { TransportOptions } from '../../src/drivers/vrrp-socket/transport.ts';
import { openVrrpTransport, type Transport } from '../../src/drivers/vrrp-socket/vrrp-transport.ts';
import { receivedToJson } from './vrrp-transport-wire.ts';

// The receiving end of test/lab/vrrp-transport-shared.test.ts, run inside a namespace:
// several transports on one interface in one process (as an agent's instances are),
// which must share one raw socket and still each hear exactly what a socket of their own
// would have given them. Prints JSON lines: ready (with the socket count), one advert
// line per delivery, and done (counters per transport, sockets left after closing).
//
//   node --import tsx vrrp-shared-runner.ts '{"options": {...}, "vrids": [51, 52, null], "expect": 4, "timeoutMs": 5000}'

interface Job {
  options: TransportOptions;
  /** One transport per entry; null opens one without a VRID filter. */
  vrids: (number | null)[];
  /** Deliveries to wait for on the last transport. */
  expect: number;
  timeoutMs: number;
}

const print = (o: object): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};

/** Raw sockets for protocol 112 in this namespace: /proc/net/raw shows the protocol as the local port. */
const vrrpSockets = (): number =>
  readFileSync('/proc/net/raw', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => /^\s*\d+: [0-9A-F]+:0070 /.test(l)).length;

async function main(job: Job): Promise<void> {
  const transports: Transport[] = [];
  for (const vrid of job.vrids)
    transports.push(await openVrrpTransport({ ...job.options, ...(vrid === null ? {} : { vrid }) }));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, job.timeoutMs);
    let all = 0;
    transports.forEach((t, i) => {
      t.onAdvert((r) => {
        print({ event: 'advert', transport: i, ...receivedToJson(r) });
        if (i === transports.length - 1 && ++all >= job.expect) {
          clearTimeout(timer);
          // Let the other transports' deliveries of the same packet be printed first.
          setImmediate(resolve);
        }
      });
    });
    print({ event: 'ready', sockets: vrrpSockets() });
  });
  const counters = transports.map((t) => t.counters());
  await Promise.all(transports.map((t) => t.close()));
  print({ event: 'done', counters, socketsAfterClose: vrrpSockets() });
}

main(JSON.parse(process.argv[2] ?? '{}') as Job).then(
  () => process.exit(0),
  (e: unknown) => {
    print({ event: 'error', message: e instanceof Error ? e.message : String(e) });
    process.exit(1);
  },
);
