import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';

// Binds the API to exactly the address the operator gave, never to every interface:
// an agent runs on load balancers, whose other interfaces face the internet.

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Listening {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** "127.0.0.1:9742", "[::1]:9742"; port 0 lets the kernel choose. Undefined when malformed. */
export function parseListen(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

export function listen(app: Hono, at: ListenAddress): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: at.host, port: at.port });
    const failed = (e: Error) => reject(e);
    server.once('error', failed);
    server.once('listening', () => {
      server.off('error', failed);
      const a = server.address() as AddressInfo;
      resolve({
        host: a.address,
        port: a.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive connections would hold close() open until they idle out.
            if ('closeAllConnections' in server) server.closeAllConnections();
          }),
      });
    });
  });
}
