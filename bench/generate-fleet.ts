// A generated fleet for benchmarks: PAIRS pairs of nodes, each pair running
// INSTANCES_PER_PAIR VRRP instances with one VIP and one virtual server each, every
// virtual server with REAL_SERVERS HTTP-checked real servers. Addresses are from
// 2001:db8::/32 (documentation) — this is data for the parser, never traffic.

export interface FleetShape {
  pairs: number;
  instancesPerPair: number;
  realServers: number;
}

export interface FleetChange {
  /** Real servers whose weight changes. */
  reweight: number;
  /** Instances that get one more VIP. */
  addVip: number;
}

export function generateFleet(shape: FleetShape, change?: FleetChange): Map<string, string> {
  const files = new Map<string, string>();
  const c: string[] = [
    'apiVersion: keepgit/v1',
    'kind: Cluster',
    'metadata: { name: bench-fleet }',
    'defaults:',
    '  vrrp: { version: 3, advertInterval: 1s }',
    '  check: { delayLoop: 5s, connectTimeout: 2s }',
    'instances:',
  ];
  let n = 0;
  for (let p = 0; p < shape.pairs; p++) {
    const a = `lb${2 * p + 1}`;
    const b = `lb${2 * p + 2}`;
    for (let i = 0; i < shape.instancesPerPair; i++, n++) {
      c.push(
        `  - name: vi-${p}-${i}`,
        `    vrid: ${i + 1}`,
        '    interface: eth0',
        `    priority: { ${a}: 110, ${b}: 100 }`,
        `    vips: [2001:db8:${p}::${(i + 1).toString(16)}/128${change && n < change.addVip ? `, 2001:db8:${p}:ff::${(i + 1).toString(16)}/128` : ''}]`,
      );
    }
  }
  c.push('virtualServers:');
  let rsN = 0;
  for (let p = 0; p < shape.pairs; p++) {
    for (let i = 0; i < shape.instancesPerPair; i++) {
      c.push(
        `  - name: vs-${p}-${i}`,
        `    nodes: [lb${2 * p + 1}, lb${2 * p + 2}]`,
        `    address: 2001:db8:${p}::${(i + 1).toString(16)}`,
        '    port: 443',
        '    scheduler: wrr',
        '    realServers:',
      );
      for (let r = 0; r < shape.realServers; r++, rsN++) {
        const weight = change && rsN < change.reweight ? 3 : 1;
        c.push(
          `      - address: 2001:db8:${p}:${(i + 1).toString(16)}::${(r + 1).toString(16)}`,
          `        weight: ${weight}`,
          '        checks: [{ type: http, urls: [{ path: /healthz, statusCode: 200 }] }]',
        );
      }
    }
  }
  files.set('keepgit.yaml', `${c.join('\n')}\n`);
  for (let k = 1; k <= shape.pairs * 2; k++) {
    files.set(
      `nodes/lb${k}.yaml`,
      [
        'apiVersion: keepgit/v1',
        'kind: Node',
        `metadata: { name: lb${k} }`,
        'interfaces:',
        '  eth0:',
        `    addresses: [2001:db8:ffff::${k.toString(16)}/64]`,
        '',
      ].join('\n'),
    );
  }
  return files;
}
