// The repositories bench/reconcile.ts pushes: a small one (a few instances on eth0) whose
// commits each move one VIP, and a fleet of up to 1,000 VRRP instances for lb1 and lb2.
// A VRID is unique per interface and address family, so 1,000 instances need four
// (interface, family) groups of up to 250: IPv4 and IPv6 on eth0 (the lab's bridge) and on
// eth1 (a veth between lb1 and lb2 that the bench adds). Documentation addresses only.

export const NODES = ['lb1', 'lb2'] as const;
export const PRIORITY: Record<(typeof NODES)[number], number> = { lb1: 110, lb2: 100 };
/** At most 250 instances per (interface, family) group: eth1's own addresses are .251 and .252. */
export const MAX_FLEET = 1000;

export type Files = Record<string, string>;

const header = (name: string) => [
  'apiVersion: keepgit/v1',
  'kind: Cluster',
  `metadata: { name: ${name} }`,
  'defaults:',
  '  vrrp: { version: 3, advertInterval: 1s, preempt: true }',
  'instances:',
];

const instanceYaml = (name: string, vrid: number, iface: string, vips: readonly string[]) => [
  `  - name: ${name}`,
  `    vrid: ${vrid}`,
  `    interface: ${iface}`,
  `    priority: { lb1: ${PRIORITY.lb1}, lb2: ${PRIORITY.lb2} }`,
  `    vips: [${vips.join(', ')}]`,
];

const nodeYaml = (name: string, n: number, eth1: boolean) =>
  [
    'apiVersion: keepgit/v1',
    'kind: Node',
    `metadata: { name: ${name} }`,
    'interfaces:',
    '  eth0:',
    `    addresses: [192.0.2.${10 + n}/24, 2001:db8::${10 + n}/64]`,
    ...(eth1 ? ['  eth1:', `    addresses: [${ETH1_V4(n)}/24, ${ETH1_V6(n)}/64]`] : []),
    '',
  ].join('\n');

export const ETH1_V4 = (n: number) => `203.0.113.${250 + n}`;
export const ETH1_V6 = (n: number) => `2001:db8:1::${10 + n}`;

/** The small repository: instance vi<k> on eth0 holds vips[k]; one commit per changed VIP. */
export function smallRepo(vips: readonly string[]): Files {
  return {
    'keepgit.yaml': `${[...header('bench-small'), ...vips.flatMap((v, k) => instanceYaml(`vi${k}`, 40 + k, 'eth0', [`${v}/24`]))].join('\n')}\n`,
    'nodes/lb1.yaml': nodeYaml('lb1', 1, false),
    'nodes/lb2.yaml': nodeYaml('lb2', 2, false),
  };
}

export interface FleetInstance {
  name: string;
  vrid: number;
  iface: 'eth0' | 'eth1';
  family: 4 | 6;
  /** Address without prefix; the repository gives /32 or /128. */
  vip: string;
}

/** n instances (n ≤ MAX_FLEET) spread evenly over the four (interface, family) groups. */
export function fleet(n: number): FleetInstance[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_FLEET)
    throw new Error(`--instances ${n}: expected 1..${MAX_FLEET}`);
  const size = Math.ceil(n / 4);
  return Array.from({ length: n }, (_, i) => {
    const g = Math.floor(i / size);
    const k = (i % size) + 1;
    const iface = g < 2 ? 'eth0' : 'eth1';
    const family = g % 2 === 0 ? 4 : 6;
    const vip =
      family === 4
        ? `${iface === 'eth0' ? '198.51.100' : '203.0.113'}.${k}`
        : `2001:db8:${iface === 'eth0' ? '100' : '101'}::${k.toString(16)}`;
    return { name: `vi${i}`, vrid: k, iface, family, vip };
  });
}

/** The VIP instance vi0 holds in each variant of the fleet: the commits swap one for the other. */
export const FLEET_VIP0 = { a: '198.51.100.1', b: '192.0.2.201' } as const;

/** The fleet repository; variant b gives instance vi0 another VIP (the one change measured). */
export function fleetRepo(instances: readonly FleetInstance[], variant: 'a' | 'b'): Files {
  const lines = header('bench-fleet');
  for (const [i, f] of instances.entries()) {
    const vip = i === 0 ? FLEET_VIP0[variant] : f.vip;
    lines.push(...instanceYaml(f.name, f.vrid, f.iface, [`${vip}/${f.family === 4 ? 32 : 128}`]));
  }
  return {
    'keepgit.yaml': `${lines.join('\n')}\n`,
    'nodes/lb1.yaml': nodeYaml('lb1', 1, true),
    'nodes/lb2.yaml': nodeYaml('lb2', 2, true),
  };
}
