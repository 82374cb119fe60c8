import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createNftDataplane, type NftDataplaneOptions } from '../../src/drivers/dataplane/nft-dataplane.ts';
import { nftRunner } from '../../src/drivers/dataplane/nft-runner.ts';
import { createLab, type Lab } from '../../src/lab/topology.ts';

// The load-balancing lab: a client, an LB and three backends on one bridge (createLab).
// The client lives in 198.51.100.0/24 and 2001:db8:1::/64, which only the LB routes, so
// the backends' replies go back through the LB (plain DNAT, no source NAT needed); the
// VIPs 203.0.113.0/24 and 2001:db8:100::/64 are routed by the client to the LB. Each
// backend runs a small node server answering "<name> <address it saw the client as>" on
// TCP 8080 (HTTP) and UDP 5353. Documentation addresses only, all inside the lab.

export const BACKENDS = ['b1', 'b2', 'b3'] as const;
export const CLIENT4 = '198.51.100.10';
export const CLIENT4_OTHER = '198.51.100.20';
export const CLIENT6 = '2001:db8:1::10';
export const LB_CLIENT_SIDE4 = '198.51.100.1';
export const LB_CLIENT_SIDE6 = '2001:db8:1::1';
export const VIP4 = '203.0.113.10';
export const VIP6 = '2001:db8:100::10';

const BACKEND_JS = `
const http = require('node:http');
const dgram = require('node:dgram');
const name = process.argv[1];
const plain = (a) => String(a).replace(/^::ffff:/, '');
const server = http.createServer((req, res) => {
  res.setHeader('connection', 'close');
  res.end(name + ' ' + plain(req.socket.remoteAddress));
});
const u4 = dgram.createSocket('udp4');
u4.on('message', (m, r) => u4.send(name + ' ' + r.address, r.port, r.address));
u4.bind(5353, () => server.listen(8080, '::', () => console.log('ready')));
`;

const CLIENT_JS = `
const http = require('node:http');
const dgram = require('node:dgram');
const o = JSON.parse(process.argv[1]);
const one = () => new Promise((done) => {
  if (o.udp) {
    const s = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); done('ERR:timeout'); }, o.timeoutMs);
    s.on('message', (m) => { clearTimeout(t); s.close(); done(String(m)); });
    s.bind({ address: o.localAddress }, () => s.send('hello', o.port, o.host));
    return;
  }
  const req = http.get({ host: o.host, port: o.port, path: '/', agent: false, localAddress: o.localAddress, timeout: o.timeoutMs }, (r) => {
    let body = '';
    r.on('data', (d) => { body += d; });
    r.on('end', () => done(body));
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (e) => done('ERR:' + (e.code || e.message)));
});
(async () => {
  const out = [];
  for (let i = 0; i < o.count; i++) {
    out.push(await one());
    if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
  }
  console.log(JSON.stringify(out));
})();
`;

export interface Answer {
  /** The backend that answered, or undefined when the request failed. */
  backend?: string;
  /** The client address the backend saw. */
  seenAs?: string;
  error?: string;
}

export interface LbLab {
  lab: Lab;
  lbNs: string;
  /** A fresh nftables dataplane for the LB namespace. */
  dataplane(opts?: Omit<NftDataplaneOptions, 'runner'>): ReturnType<typeof createNftDataplane>;
  /** `nft list table inet keepgit_lb` in the LB namespace, as text. */
  listTable(): string;
  /** Runs nft in the LB namespace; its output. */
  nft(...args: string[]): string;
  /** `count` requests from the client, one connection (or UDP socket) each, one after the other. */
  requests(opts: {
    host: string;
    port: number;
    count: number;
    udp?: boolean;
    localAddress?: string;
    gapMs?: number;
  }): Promise<Answer[]>;
  destroy(): Promise<void>;
}

const must = (lab: Lab, host: string, cmd: string, args: string[]) => {
  const r = lab.execSync(host, cmd, args);
  assert.equal(r.status, 0, `${host}: ${cmd} ${args.join(' ')}: ${r.stderr}`);
};

function sysctl(lab: Lab, host: string, values: Record<string, string>): void {
  const script = Object.entries(values)
    .map(([k, v]) => `echo ${v} > /proc/sys/${k.replaceAll('.', '/')}`)
    .join(' && ');
  must(lab, host, 'sh', ['-c', script]);
}

function waitReady(child: ChildProcess, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`backend ${name} did not start`)), 30_000);
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('exit', (code) => reject(new Error(`backend ${name} exited ${code}: ${stderr}`)));
    if (!child.stdout) return reject(new Error('no stdout'));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export async function createLbLab(prefix: string): Promise<LbLab> {
  const lab = createLab({ prefix, hosts: ['client', 'lb', ...BACKENDS] });
  try {
    const lbNs = lab.nsName('lb');
    sysctl(lab, 'lb', {
      'net.ipv4.ip_forward': '1',
      'net.ipv6.conf.all.forwarding': '1',
      // Client and backends share the segment: no redirects that would send replies around the LB.
      'net.ipv4.conf.all.send_redirects': '0',
      'net.ipv4.conf.eth0.send_redirects': '0',
    });
    must(lab, 'lb', 'ip', ['addr', 'add', `${LB_CLIENT_SIDE4}/24`, 'dev', 'eth0']);
    must(lab, 'lb', 'ip', ['addr', 'add', `${LB_CLIENT_SIDE6}/64`, 'dev', 'eth0', 'nodad']);
    must(lab, 'client', 'ip', ['addr', 'add', `${CLIENT4}/24`, 'dev', 'eth0']);
    must(lab, 'client', 'ip', ['addr', 'add', `${CLIENT4_OTHER}/24`, 'dev', 'eth0']);
    must(lab, 'client', 'ip', ['addr', 'add', `${CLIENT6}/64`, 'dev', 'eth0', 'nodad']);
    must(lab, 'client', 'ip', ['route', 'add', '203.0.113.0/24', 'via', LB_CLIENT_SIDE4, 'src', CLIENT4]);
    must(lab, 'client', 'ip', [
      '-6',
      'route',
      'add',
      '2001:db8:100::/64',
      'via',
      LB_CLIENT_SIDE6,
      'src',
      CLIENT6,
    ]);
    const children: ChildProcess[] = [];
    for (const b of BACKENDS) {
      sysctl(lab, b, {
        'net.ipv4.conf.all.accept_redirects': '0',
        'net.ipv4.conf.eth0.accept_redirects': '0',
        'net.ipv6.conf.all.accept_redirects': '0',
        'net.ipv6.conf.eth0.accept_redirects': '0',
      });
      must(lab, b, 'ip', ['route', 'add', 'default', 'via', lab.address('lb', 4)]);
      must(lab, b, 'ip', ['-6', 'route', 'add', 'default', 'via', lab.address('lb', 6)]);
      children.push(
        lab.spawn(b, process.execPath, ['-e', BACKEND_JS, b], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
    }
    await Promise.all(children.map((c, i) => waitReady(c, BACKENDS[i] ?? '')));
    return {
      lab,
      lbNs,
      dataplane: (opts = {}) =>
        createNftDataplane({ ...opts, runner: nftRunner(['ip', 'netns', 'exec', lbNs, 'nft']) }),
      listTable: () => lab.execSync('lb', 'nft', ['list', 'table', 'inet', 'keepgit_lb']).stdout,
      nft: (...args) => lab.execSync('lb', 'nft', args).stdout,
      requests: async (o) => {
        const args = JSON.stringify({ ...o, timeoutMs: 5000 });
        const r = await lab.exec('client', process.execPath, ['-e', CLIENT_JS, args], {
          timeoutMs: 60_000 + o.count * ((o.gapMs ?? 0) + 6000),
        });
        assert.equal(r.status, 0, `client: ${r.stderr}`);
        const lines = JSON.parse(r.stdout) as string[];
        return lines.map((l) => {
          if (l.startsWith('ERR:')) return { error: l.slice(4) };
          const [backend, seenAs] = l.split(' ');
          return { backend, seenAs };
        });
      },
      destroy: () => lab.destroy(),
    };
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}

/** How many answers each backend gave (failures under "error"). */
export function tally(answers: readonly Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const k = a.backend ?? 'error';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * The batch with the map element holding `needle` given a second time with another value:
 * nft parses it, the kernel refuses it (EEXIST) in the middle of the transaction.
 */
export function duplicateLine(text: string, needle: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `no line with ${needle} in the batch`);
  const line = lines[i] ?? '';
  if (line.startsWith('add element ')) {
    // A patch: one more `add element` of the same key with another value.
    lines.splice(i + 1, 0, line.replace(/: [^}]+}$/, ': 192.0.2.99 . 9 }'));
    return lines.join('\n');
  }
  // The full table: the element again inside the map's `elements = { ... }`.
  const other = line.replace(/: [^,]+(,?)$/, ': 192.0.2.99 . 9$1');
  lines.splice(i, 1, `${line.replace(/,$/, '')},`, other);
  return lines.join('\n');
}
