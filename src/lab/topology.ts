import { type ChildProcess, type SpawnOptions, spawn as spawnChild } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onProcessEnd } from './cleanup.ts';
import { addNamespace, removeNamespaces, removeNamespacesSync } from './namespaces.ts';
import { must, type RunAsyncOptions, type RunResult, run, runAsync } from './run.ts';

// The lab: one segment made of a switch namespace holding a Linux bridge (br0) and one
// namespace per host, each with a single interface eth0 whose veth peer is a port of br0.
//
//   <prefix>-switch   br0 ── p-lb1 ── p-lb2 ── p-client ...
//   <prefix>-lb1      eth0 192.0.2.11/24  2001:db8::11/64  02:4b:47:00:00:01
//   <prefix>-lb2      eth0 192.0.2.12/24  2001:db8::12/64  02:4b:47:00:00:02
//
// Host number i (1-based, in the order given) gets 192.0.2.(10+i) and 2001:db8::(10+i), the
// same digits read as hex (192.0.2.11 and 2001:db8::11).
// Only documentation addresses; the veth pairs are created inside the host namespace with
// their peer sent straight to the switch namespace, so nothing ever appears in the root
// namespace. IPv6 DAD is off (addresses are usable at once) and IPv6 addresses survive a
// link down, as IPv4 ones do, so setLink(host, 'up') restores the host as it was.
// Everything created is removed by destroy(), on a failure half-way through createLab, and
// when the process exits or is killed by SIGINT/SIGTERM/SIGHUP.

export type Family = 4 | 6;
export type LinkState = 'up' | 'down';

/** The name by which exec, spawn and nsName reach the switch namespace. */
export const SWITCH = 'switch';
export const BRIDGE = 'br0';
export const HOST_IF = 'eth0';
export const MAX_HOSTS = 200;

const HOST_RE = /^[a-z][a-z0-9]{0,11}$/;
const PREFIX_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const VRRP_TABLE = 'keepgit_lab_vrrp';
const ISOLATE_TABLE = 'keepgit_lab_isolate';

export interface LabOptions {
  /** Every namespace is named `<prefix>-<host>`, and the switch `<prefix>-switch`. */
  prefix: string;
  hosts: readonly string[];
}

export interface LabHost {
  name: string;
  ns: string;
  index: number;
  mac: string;
  ipv4: string;
  ipv6: string;
  /** The switch's side of the host's veth, a port of br0. */
  port: string;
}

export interface Lab {
  readonly prefix: string;
  readonly hosts: readonly LabHost[];
  /** Every namespace the lab made, switch first. */
  readonly namespaces: readonly string[];
  nsName(host: string): string;
  address(host: string, family: Family): string;
  /** The address with its prefix length: 192.0.2.11/24, 2001:db8::11/64. */
  cidr(host: string, family: Family): string;
  mac(host: string): string;
  /** Runs `cmd` inside the host's namespace (`ip netns exec NS cmd ...`) and waits for it. */
  exec(host: string, cmd: string, args?: readonly string[], opts?: RunAsyncOptions): Promise<RunResult>;
  execSync(host: string, cmd: string, args?: readonly string[]): RunResult;
  /** Starts `cmd` inside the host's namespace; destroy() ends it (by its PID) if it is still running. */
  spawn(host: string, cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** One ICMP echo (ping -c 1 -W 1) from `from` to a host of the lab or a literal address. */
  ping(from: string, to: string, family?: Family): Promise<boolean>;
  /** Sets the host's eth0 administratively up or down. */
  setLink(host: string, state: LinkState): void;
  /** Drops VRRP multicast (224.0.0.18, ff02::12) on the bridge, in the switch namespace. */
  blockMulticast(): void;
  unblockMulticast(): void;
  /** Drops every frame to and from the host at the bridge (its link stays up). */
  isolate(host: string): void;
  reconnect(host: string): void;
  /** Ends the processes spawned in the lab and deletes its namespaces. Safe to call twice. */
  destroy(): Promise<void>;
  /** Leaves the lab in place when this process ends (`keepgit lab up`); destroy() still works. */
  detach(): void;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const macOf = (kind: number, i: number) => `02:4b:47:${hex2(kind)}:${hex2(i >> 8)}:${hex2(i & 0xff)}`;

export function hostPlan(prefix: string, hosts: readonly string[]): LabHost[] {
  if (!PREFIX_RE.test(prefix))
    throw new Error(`lab prefix "${prefix}": letters, digits, - and _ (at most 32)`);
  if (hosts.length === 0) throw new Error('a lab needs at least one host');
  if (hosts.length > MAX_HOSTS) throw new Error(`a lab has at most ${MAX_HOSTS} hosts`);
  const seen = new Set<string>();
  return hosts.map((name, k) => {
    if (!HOST_RE.test(name))
      throw new Error(
        `host name "${name}": a lowercase letter, then lowercase letters or digits (at most 12)`,
      );
    if (name === SWITCH) throw new Error(`host name "${SWITCH}" is the switch's`);
    if (seen.has(name)) throw new Error(`host "${name}" given twice`);
    seen.add(name);
    const index = k + 1;
    return {
      name,
      ns: `${prefix}-${name}`,
      index,
      mac: macOf(0, index),
      ipv4: `192.0.2.${10 + index}`,
      ipv6: `2001:db8::${10 + index}`, // the same digits as IPv4's last byte
      port: `p-${name}`,
    };
  });
}

/** Sets sysctls inside `ns` by writing /proc/sys there (no dependency on procps). */
function sysctls(ns: string, values: Record<string, string>): void {
  const script = Object.entries(values)
    .map(([k, v]) => `echo ${v} > /proc/sys/${k.replaceAll('.', '/')}`)
    .join(' && ');
  must('ip', ['netns', 'exec', ns, 'sh', '-c', script]);
}

const HOST_SYSCTLS = {
  'net.ipv6.conf.all.accept_dad': '0',
  'net.ipv6.conf.default.accept_dad': '0',
  'net.ipv6.conf.all.keep_addr_on_down': '1',
  'net.ipv6.conf.default.keep_addr_on_down': '1',
  'net.ipv6.conf.default.router_solicitations': '0',
};
// The switch only bridges: no addresses, no ND or MLD of its own on the segment.
const SWITCH_SYSCTLS = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
};

export function createLab(opts: LabOptions): Lab {
  const plan = hostPlan(opts.prefix, opts.hosts);
  const byName = new Map(plan.map((h) => [h.name, h]));
  const switchNs = `${opts.prefix}-${SWITCH}`;
  const created: string[] = [];
  const children = new Set<ChildProcess>();
  let destroyed: Promise<void> | undefined;

  const killChildren = (sig: NodeJS.Signals) => {
    for (const c of children)
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) c.kill(sig);
  };
  const destroySync = () => {
    killChildren('SIGKILL');
    removeNamespacesSync(created);
  };
  const unregister = onProcessEnd(destroySync);

  const host = (name: string): LabHost => {
    const h = byName.get(name);
    if (!h)
      throw new Error(`no host "${name}" in lab ${opts.prefix} (hosts: ${[...byName.keys()].join(', ')})`);
    return h;
  };
  const nsName = (name: string) => (name === SWITCH ? switchNs : host(name).ns);
  const ipIn = (ns: string, args: string[]) => must('ip', ['-n', ns, ...args]);
  const nft = (script: string) => must('ip', ['netns', 'exec', switchNs, 'nft', '-f', '-'], script);
  const nftDelete = (table: string) =>
    run('ip', ['netns', 'exec', switchNs, 'nft', 'delete', 'table', 'bridge', table]);

  try {
    for (const ns of [switchNs, ...plan.map((h) => h.ns)]) {
      addNamespace(ns); // fails when the name is taken: then it is not ours to delete
      created.push(ns);
      ipIn(ns, ['link', 'set', 'lo', 'up']);
      sysctls(ns, ns === switchNs ? SWITCH_SYSCTLS : HOST_SYSCTLS);
    }
    ipIn(switchNs, [
      'link',
      'add',
      BRIDGE,
      'address',
      macOf(0xff, 0),
      'type',
      'bridge',
      'stp_state',
      '0',
      'forward_delay',
      '0',
      'mcast_snooping',
      '0',
    ]);
    ipIn(switchNs, ['link', 'set', BRIDGE, 'up']);
    for (const h of plan) {
      ipIn(h.ns, [
        'link',
        'add',
        HOST_IF,
        'address',
        h.mac,
        'type',
        'veth',
        'peer',
        'name',
        h.port,
        'address',
        macOf(1, h.index),
        'netns',
        switchNs,
      ]);
      ipIn(switchNs, ['link', 'set', h.port, 'master', BRIDGE, 'up']);
      ipIn(h.ns, ['addr', 'add', `${h.ipv4}/24`, 'dev', HOST_IF]);
      ipIn(h.ns, ['addr', 'add', `${h.ipv6}/64`, 'dev', HOST_IF, 'nodad']);
      ipIn(h.ns, ['link', 'set', HOST_IF, 'up']);
    }
  } catch (e) {
    destroySync();
    unregister();
    throw e;
  }

  const lab: Lab = {
    prefix: opts.prefix,
    hosts: plan,
    namespaces: [...created],
    nsName,
    address: (name, family) => (family === 4 ? host(name).ipv4 : host(name).ipv6),
    cidr: (name, family) => (family === 4 ? `${host(name).ipv4}/24` : `${host(name).ipv6}/64`),
    mac: (name) => host(name).mac,
    exec: (name, cmd, args = [], o = {}) => runAsync('ip', ['netns', 'exec', nsName(name), cmd, ...args], o),
    execSync: (name, cmd, args = []) => run('ip', ['netns', 'exec', nsName(name), cmd, ...args]),
    spawn: (name, cmd, args = [], o = {}) => {
      if (destroyed) throw new Error(`lab ${opts.prefix} is destroyed`);
      // ip netns exec execs the command: the child's PID is the command's own.
      const child = spawnChild('ip', ['netns', 'exec', nsName(name), cmd, ...args], o);
      children.add(child);
      child.on('exit', () => children.delete(child));
      return child;
    },
    ping: async (from, to, family) => {
      const target = byName.has(to) ? lab.address(to, family ?? 4) : to;
      const fam = family ?? (target.includes(':') ? 6 : 4);
      const r = await lab.exec(from, 'ping', [`-${fam}`, '-n', '-q', '-c', '1', '-W', '1', target], {
        timeoutMs: 5000,
      });
      return r.status === 0;
    },
    setLink: (name, state) => {
      ipIn(host(name).ns, ['link', 'set', HOST_IF, state]);
    },
    blockMulticast: () => {
      nftDelete(VRRP_TABLE);
      nft(
        [
          `table bridge ${VRRP_TABLE} {`,
          '  chain forward {',
          '    type filter hook forward priority 0; policy accept;',
          '    ip daddr 224.0.0.18 counter drop',
          '    ip6 daddr ff02::12 counter drop',
          '  }',
          '}',
          '',
        ].join('\n'),
      );
    },
    unblockMulticast: () => {
      nftDelete(VRRP_TABLE);
    },
    isolate: (name) => {
      const { port } = host(name);
      if (
        run('ip', ['netns', 'exec', switchNs, 'nft', 'list', 'table', 'bridge', ISOLATE_TABLE]).status !== 0
      )
        nft(
          [
            `table bridge ${ISOLATE_TABLE} {`,
            '  set ports { type ifname; }',
            '  chain forward {',
            '    type filter hook forward priority -10; policy accept;',
            '    iifname @ports drop',
            '    oifname @ports drop',
            '  }',
            '}',
            '',
          ].join('\n'),
        );
      nft(`add element bridge ${ISOLATE_TABLE} ports { "${port}" }\n`);
    },
    reconnect: (name) => {
      const { port } = host(name);
      run('ip', [
        'netns',
        'exec',
        switchNs,
        'nft',
        'delete',
        'element',
        'bridge',
        ISOLATE_TABLE,
        'ports',
        `{ "${port}" }`,
      ]);
    },
    destroy: () => {
      destroyed ??= (async () => {
        killChildren('SIGTERM');
        const until = Date.now() + 1000;
        while (children.size > 0 && Date.now() < until) await sleep(10);
        killChildren('SIGKILL');
        await removeNamespaces(created);
        unregister();
      })();
      return destroyed;
    },
    detach: () => {
      unregister();
    },
  };
  return lab;
}
