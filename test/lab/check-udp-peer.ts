import { createSocket } from 'node:dgram';

// The UDP peer of check-udp.test.ts, run in a lab namespace (`ip netns exec NS node
// --import tsx check-udp-peer.ts`); the test ends it by its PID. On every address of the
// namespace (IPv4 and IPv6, one dual-stack socket per port):
//   port 7     echo: sends every datagram back;
//   port 9000  answers "PONG v1" to "ping" and "ERR" to anything else;
//   port 9001  reads and never answers.
// Prints READY once all three are bound.

const ports: [number, (m: Buffer) => Buffer | undefined][] = [
  [7, (m) => m],
  [9000, (m) => Buffer.from(m.toString('latin1') === 'ping' ? 'PONG v1' : 'ERR')],
  [9001, () => undefined],
];

await Promise.all(
  ports.map(
    ([port, answer]) =>
      new Promise<void>((resolve) => {
        const s = createSocket({ type: 'udp6', ipv6Only: false });
        s.on('message', (m, r) => {
          const a = answer(m);
          if (a) s.send(a, r.port, r.address);
        });
        s.bind(port, '::', resolve);
      }),
  ),
);
process.stdout.write('READY\n');
