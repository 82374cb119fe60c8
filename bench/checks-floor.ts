import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { plan } from './checks-targets.ts';

// The floor of bench/checks.ts: the least a Node process can do to make the same checks —
// per target, every second, net.connect and close (TCP), or send keepalived's GET and read
// to the end (HTTP); no scheduler, no timeouts, no abort signals, no promises, no digest. It
// is not a checker (nothing fails, nothing is reported): it shows how much of keepgit's cost
// is Node's net module and the kernel, which any checker written on them pays. Run as
// `node checks-floor.js TCP HTTP`; READY once started, answers "report" like checks-runner
// and ends on "exit".

const [tcp = '0', http = '0'] = process.argv.slice(2);
const REQUEST = Buffer.from('GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: floor\r\n\r\n');
let attempts = 0;

function again(fn: () => void): void {
  attempts++;
  setTimeout(fn, 1000);
}

function tcpLoop(host: string, port: number): void {
  const s: Socket = connect({ host, port });
  s.on('error', () => again(() => tcpLoop(host, port)));
  s.once('connect', () => {
    s.destroy();
    again(() => tcpLoop(host, port));
  });
}

function httpLoop(host: string, port: number): void {
  const s: Socket = connect({ host, port });
  s.on('error', () => again(() => httpLoop(host, port)));
  s.once('connect', () => s.write(REQUEST));
  s.on('data', () => {});
  s.once('end', () => {
    s.destroy();
    again(() => httpLoop(host, port));
  });
}

const targets = plan(Number(tcp), Number(http)).targets;
for (const t of targets)
  setTimeout(
    () => (t.mode === 'tcp' ? tcpLoop(t.address, t.port) : httpLoop(t.address, t.port)),
    Math.random() * 1000,
  );
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'report') process.stdout.write(`REPORT ${JSON.stringify({ attempts })}\n`);
  if (line.trim() === 'exit') process.exit(0);
});
process.stdout.write(`READY ${targets.length}\n`);
