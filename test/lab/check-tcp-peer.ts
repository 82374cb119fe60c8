import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

// The TCP-speaking peers of check-tcp-http-smtp.test.ts, run in a lab namespace (`ip netns
// exec NS node --import tsx check-tcp-peer.ts CERT-DIR FIXED-BODY`); the test ends it by its
// PID. On every address of the namespace (IPv4 and IPv6, one dual-stack socket per port):
//   port 80    HTTP:  /fixed answers FIXED-BODY, /health "ok", /vhost the Host header it got,
//                     anything else 404;
//   port 443   HTTPS (CERT-DIR/key.pem, cert.pem): the same pages, and /sni answers
//                     "sni=NAME" with the TLS server name the client sent, or "sni=none";
//   port 25    SMTP:  a multi-line 220 greeting, 250 to HELO, 221 to QUIT;
//   port 2525  SMTP that refuses service: "554 no service" as its greeting.
// Port 81 is left closed. Prints READY once every listener is bound.

const [certDir = '.', fixedBody = ''] = process.argv.slice(2);

function page(req: IncomingMessage, res: ServerResponse): void {
  const servername = (req.socket as { servername?: string | false }).servername;
  const send = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const pages: Record<string, string> = {
    '/fixed': fixedBody,
    '/health': 'ok\n',
    '/vhost': `host=${req.headers.host ?? ''}`,
    '/sni': `sni=${servername || 'none'}`,
  };
  const body = pages[req.url ?? ''];
  send(body === undefined ? 404 : 200, body ?? 'not found\n');
}

function smtp(greeting: string): Server {
  return createNetServer((socket: Socket) => {
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    socket.write(greeting);
    let buffer = '';
    socket.on('data', (text: string) => {
      buffer += text;
      for (let nl = buffer.indexOf('\r\n'); nl >= 0; nl = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (/^HELO /i.test(line)) socket.write('250 mail.example.test\r\n');
        else if (/^QUIT$/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('502 not implemented\r\n');
      }
    });
  });
}

const tls = { key: readFileSync(join(certDir, 'key.pem')), cert: readFileSync(join(certDir, 'cert.pem')) };
const servers: [number, Server][] = [
  [80, createHttpServer(page)],
  [443, createHttpsServer(tls, page)],
  [25, smtp('220-mail.example.test ESMTP\r\n220 ready\r\n')],
  [2525, smtp('554 no service\r\n')],
];

await Promise.all(
  servers.map(
    ([port, server]) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: '::', ipv6Only: false }, resolve);
      }),
  ),
);
process.stdout.write('READY\n');
