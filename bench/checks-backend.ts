import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

// A backend of bench/checks.ts, run in a lab namespace (`ip netns exec NS node
// checks-backend.js tcp|http FIRST-PORT COUNT`): listens on COUNT ports from FIRST-PORT on
// every address of the namespace and counts what it is asked, so that both checkers are
// measured by the same witness. `tcp` accepts and waits for the checker to close; `http`
// answers every request with 200 "ok". Prints READY once bound; to the line "count" on
// stdin it answers "COUNT <connections> <requests>" (totals since start).

const [mode = 'tcp', first = '10000', count = '1'] = process.argv.slice(2);
let connections = 0;
let requests = 0;

function server(): Server {
  if (mode === 'http') {
    const s = createHttpServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
      res.end('ok\n');
    });
    s.on('connection', (socket: Socket) => {
      connections++;
      socket.on('error', () => {});
    });
    return s;
  }
  return createNetServer((socket: Socket) => {
    connections++;
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    socket.resume();
  });
}

await Promise.all(
  Array.from(
    { length: Number(count) },
    (_, i) =>
      new Promise<void>((resolve, reject) => {
        const s = server();
        s.once('error', reject);
        s.listen({ port: Number(first) + i, host: '0.0.0.0', backlog: 1024 }, resolve);
      }),
  ),
);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`COUNT ${connections} ${requests}\n`);
});
process.stdout.write('READY\n');
