// The targets of bench/checks.ts and the two descriptions of the same checks: a keepgit
// repository for the node `lb1` and an HAProxy configuration. Pure: text out, nothing run.
//
// Targets are distinct address:port pairs: each backend namespace holds up to
// ADDRESSES_PER_BACKEND documentation addresses (198.51.100.0/24 for TCP, 203.0.113.0/24 for
// HTTP, one /27 per backend, routed by the lb namespace through the backend's lab address)
// and listens on PORTS ports on all of them.

export const PORTS = 50;
export const FIRST_PORT = 10_000;
export const ADDRESSES_PER_BACKEND = 20;
export const NODE = 'lb1';

export interface Backend {
  /** The lab host name. */
  host: string;
  mode: 'tcp' | 'http';
  /** The /27 the lb namespace routes to this backend. */
  route: string;
  addresses: string[];
}

export interface Target {
  address: string;
  port: number;
  mode: 'tcp' | 'http';
}

export interface Plan {
  backends: Backend[];
  targets: Target[];
}

/** Backends and targets for `tcp` TCP checks and `http` HTTP checks, each count a multiple of PORTS. */
export function plan(tcp: number, http: number): Plan {
  const backends: Backend[] = [];
  const targets: Target[] = [];
  const add = (mode: 'tcp' | 'http', count: number, net: string) => {
    const addresses = Math.ceil(count / PORTS);
    const hosts = Math.ceil(addresses / ADDRESSES_PER_BACKEND);
    if (hosts > 8) throw new Error(`${count} ${mode} checks need more than 8 backends of ${net}.0/24`);
    let left = count;
    for (let h = 0; h < hosts; h++) {
      const base = h * 32;
      const n = Math.min(ADDRESSES_PER_BACKEND, addresses - h * ADDRESSES_PER_BACKEND);
      const b: Backend = {
        host: `${mode}${h + 1}`,
        mode,
        route: `${net}.${base}/27`,
        addresses: Array.from({ length: n }, (_, i) => `${net}.${base + 1 + i}`),
      };
      backends.push(b);
      for (const address of b.addresses)
        for (let p = 0; p < PORTS && left > 0; p++, left--)
          targets.push({ address, port: FIRST_PORT + p, mode });
    }
  };
  add('tcp', tcp, '198.51.100');
  add('http', http, '203.0.113');
  return { backends, targets };
}

/** One service per mode and port: "tcp-10000" → its targets. */
function byService(targets: readonly Target[]): Map<string, Target[]> {
  const groups = new Map<string, Target[]>();
  for (const t of targets) {
    const key = `${t.mode}-${t.port}`;
    const g = groups.get(key);
    if (g) g.push(t);
    else groups.set(key, [t]);
  }
  return groups;
}

/**
 * keepgit's side: one virtual server per (mode, port), its real servers every address of that
 * mode on that port, each with one check at delay_loop 1 s and connect_timeout 1 s.
 */
export function repository(targets: readonly Target[]): Record<string, string> {
  const lines = [
    'apiVersion: keepgit/v1',
    'kind: Cluster',
    'metadata: { name: bench-checks }',
    'defaults:',
    '  check: { delayLoop: 1s, connectTimeout: 1s, retry: 1, delayBeforeRetry: 1s }',
    'virtualServers:',
  ];
  for (const [key, members] of byService(targets)) {
    const first = members[0] as Target;
    lines.push(
      `  - name: ${key}`,
      `    address: ${first.mode === 'tcp' ? '192.0.2.200' : '192.0.2.201'}`,
      `    port: ${first.port}`,
      '    realServers:',
    );
    const check =
      first.mode === 'tcp'
        ? '{ type: tcp }'
        : '{ type: http, delayBeforeRetry: 1s, urls: [{ path: /, statusCode: 200 }] }';
    for (const t of members)
      lines.push(`      - { address: ${t.address}, port: ${t.port}, checks: [${check}] }`);
  }
  return {
    'keepgit.yaml': `${lines.join('\n')}\n`,
    [`nodes/${NODE}.yaml`]: `apiVersion: keepgit/v1\nkind: Node\nmetadata: { name: ${NODE} }\n`,
  };
}

/**
 * HAProxy's side: the same targets as servers of backends (one per mode and port), every
 * server `check inter 1s`; TCP connect checks, and `option httpchk GET /` for HTTP.
 */
export function haproxyConfig(targets: readonly Target[], statsSocket: string): string {
  const lines = [
    'global',
    '  maxconn 4096',
    `  stats socket ${statsSocket} mode 600 level admin`,
    'defaults',
    '  timeout connect 1s',
    '  timeout check 1s',
    '  timeout client 10s',
    '  timeout server 10s',
  ];
  for (const [name, members] of byService(targets)) {
    const mode = (members[0] as Target).mode;
    lines.push(`backend ${name}`, `  mode ${mode}`);
    if (mode === 'http') lines.push('  option httpchk GET /');
    for (const t of members) lines.push(`  server s-${t.address} ${t.address}:${t.port} check inter 1s`);
  }
  return `${lines.join('\n')}\n`;
}

/** Servers UP and in total in HAProxy's `show stat` CSV. */
export function haproxyUp(csv: string): { up: number; total: number } {
  const rows = csv.split('\n').filter((l) => l && !l.startsWith('#'));
  let up = 0;
  let total = 0;
  for (const r of rows) {
    const f = r.split(',');
    if (f[1] === 'FRONTEND' || f[1] === 'BACKEND') continue;
    total++;
    if (f[17]?.startsWith('UP')) up++;
  }
  return { up, total };
}
