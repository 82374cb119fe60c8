import type { DataplaneContent, Destination, Service } from '../drivers/dataplane/dataplane.ts';
import { canonicalIp, ipFamily } from '../model/ip.ts';
import type { NodeView, ViewRealServer, ViewVirtualServer } from '../model/node-view.ts';

// The dataplane's desired content, from the node's virtual servers and the checkers' facts.
// Pure: the same view and facts give the same content, so a flapping check changes only
// the service it belongs to, and the driver's diff applies only that.
//
// keepalived's rules, kept:
// - a real server without checks is always up; with checks, up only while all pass;
// - a down real server leaves the service, or stays at weight 0 with inhibit_on_failure;
// - misc_dynamic weights replace the configured weight while the server is up;
// - quorum: the service is "up" while the weights of its live servers reach quorum
//   (default 1), with hysteresis around it; the sorry server takes the traffic while the
//   service is down (no live server, or quorum lost), and leaves when it is up again.
// Real servers a revision removed stay at weight 0 while they drain (the reconciler keeps
// the list and its deadline); a draining server that is back in the repository is simply live.

export interface RealServerFact {
  up: boolean;
  /** misc_dynamic: the weight the last check asked for. */
  weight?: number;
}

/** Facts by `factKey(virtualServer.key, realServer.key)`; absent = no check has spoken yet. */
export type Facts = ReadonlyMap<string, RealServerFact>;

export const factKey = (vsKey: string, rsKey: string): string => `${vsKey}|${rsKey}`;

export interface Draining {
  vsKey: string;
  destination: Destination;
}

export interface VirtualServerState {
  key: string;
  /** Quorum reached (with hysteresis), as computed this time: feed it back as `previous`. */
  up: boolean;
  sorryActive: boolean;
  /** The sum of the weights of live real servers. */
  aliveWeight: number;
}

export interface DesiredDataplane {
  content: DataplaneContent;
  virtualServers: VirtualServerState[];
}

export interface DesiredInput {
  view: Pick<NodeView, 'virtualServers' | 'virtualServerGroups'>;
  facts: Facts;
  /** Each virtual server's `up` from the previous computation (for hysteresis). */
  previous?: ReadonlyMap<string, boolean>;
  draining?: readonly Draining[];
}

export function desiredDataplane(input: DesiredInput): DesiredDataplane {
  const services: Service[] = [];
  const states: VirtualServerState[] = [];
  for (const vs of input.view.virtualServers) {
    const { destinations, state } = destinationsOf(vs, input);
    states.push(state);
    for (const endpoint of endpointsOf(vs, input.view.virtualServerGroups)) {
      const s: Service = {
        key: endpoint.key,
        family: endpoint.family,
        protocol: vs.protocol,
        port: endpoint.port,
        scheduler: vs.scheduler,
        destinations: destinations.map((d) => ({ ...d })),
      };
      if (endpoint.address !== undefined) s.address = endpoint.address;
      if (endpoint.fwmark !== undefined) s.fwmark = endpoint.fwmark;
      if (vs.schedulerFlags.length > 0) s.schedulerFlags = [...vs.schedulerFlags];
      if (vs.persistence) s.persistence = { ...vs.persistence };
      if (vs.sourceNat)
        s.sourceNat = vs.sourceNat === 'masquerade' ? 'masquerade' : { address: vs.sourceNat };
      services.push(s);
    }
  }
  return { content: { services }, virtualServers: states };
}

/** Whether a real server is up: no checks = always; else what the checkers last said. */
export function realServerUp(vs: ViewVirtualServer, rs: ViewRealServer, facts: Facts): boolean {
  if (rs.checks.length === 0) return true;
  const fact = facts.get(factKey(vs.key, rs.key));
  if (fact) return fact.up;
  // Before any check has spoken: up, unless alpha says to start down.
  return !(vs.alpha || rs.checks.some((c) => c.spec.alpha === true));
}

function destinationsOf(
  vs: ViewVirtualServer,
  input: DesiredInput,
): { destinations: Destination[]; state: VirtualServerState } {
  const live: Destination[] = [];
  const inhibited: Destination[] = [];
  let aliveWeight = 0;
  for (const rs of vs.realServers) {
    const d: Destination = {
      address: canonicalIp(rs.address),
      port: rs.port,
      weight: rs.weight,
      forwarding: rs.forwarding,
    };
    if (realServerUp(vs, rs, input.facts)) {
      const dynamic = input.facts.get(factKey(vs.key, rs.key))?.weight;
      if (dynamic !== undefined) d.weight = dynamic;
      aliveWeight += d.weight;
      live.push(d);
    } else if (rs.inhibitOnFailure) inhibited.push({ ...d, weight: 0 });
  }
  const quorum = vs.quorum?.value ?? 1;
  const hysteresis = vs.quorum?.hysteresis ?? 0;
  const was = input.previous?.get(vs.key);
  // Without a previous state, the plain threshold; with one, it must cross the band.
  const up =
    was === undefined
      ? aliveWeight >= quorum
      : was
        ? aliveWeight >= quorum - hysteresis
        : aliveWeight >= quorum + hysteresis;
  const present = new Set([...live, ...inhibited].map((d) => destKey(d)));
  const draining = (input.draining ?? [])
    .filter((x) => x.vsKey === vs.key && !present.has(destKey(x.destination)))
    .map((x) => ({ ...x.destination, weight: 0 }));
  const sorry = vs.sorryServer;
  const sorryActive = !up && sorry !== undefined;
  const destinations = [...live, ...inhibited, ...draining];
  if (sorryActive && sorry) {
    const s: Destination = {
      address: canonicalIp(sorry.address),
      port: sorry.port ?? vs.port,
      weight: 1,
      forwarding: sorry.forwarding ?? vs.forwarding,
    };
    // The sorry server answers alone: live servers below quorum keep their entries at
    // weight 0, so their open connections finish where they are.
    for (const d of destinations) d.weight = 0;
    if (!present.has(destKey(s))) destinations.push(s);
    else for (const d of destinations) if (destKey(d) === destKey(s)) d.weight = 1;
  }
  destinations.sort((a, b) => destKey(a).localeCompare(destKey(b)));
  return { destinations, state: { key: vs.key, up, sorryActive, aliveWeight } };
}

const destKey = (d: Pick<Destination, 'address' | 'port'>): string =>
  d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;

interface Endpoint {
  key: string;
  family: 4 | 6;
  address?: string;
  port: number;
  fwmark?: number;
}

/** The kernel services one virtual server stands for: itself, or each member of its group. */
function endpointsOf(vs: ViewVirtualServer, groups: NodeView['virtualServerGroups']): Endpoint[] {
  if (vs.address !== undefined)
    return [
      { key: vs.key, family: ipFamily(vs.address) ?? 4, address: canonicalIp(vs.address), port: vs.port },
    ];
  if (vs.fwmark !== undefined) return [{ key: vs.key, family: vs.family ?? 4, port: 0, fwmark: vs.fwmark }];
  const group = groups.find((g) => g.name === vs.group);
  const out: Endpoint[] = [];
  for (const m of group?.members ?? []) {
    if ('fwmark' in m) {
      out.push({ key: `${vs.key}@fwmark:${m.fwmark}`, family: vs.family ?? 4, port: 0, fwmark: m.fwmark });
      continue;
    }
    const port = m.port ?? vs.port;
    for (const address of addressRange(canonicalIp(m.address), m.range ?? 0)) {
      const family = ipFamily(address) ?? 4;
      out.push({ key: `${vs.key}@${destKey({ address, port })}`, family, address, port });
    }
  }
  return out;
}

/** keepalived's "a.b.c.d-e" range: the last part counts up by `range` more addresses. */
function addressRange(first: string, range: number): string[] {
  if (range === 0) return [first];
  const out = [first];
  if (first.includes(':')) {
    const groups = first.split(':');
    const last = Number.parseInt(groups.at(-1) || '0', 16);
    for (let i = 1; i <= range && last + i <= 0xffff; i++)
      out.push(canonicalIp([...groups.slice(0, -1), (last + i).toString(16)].join(':')));
    return out;
  }
  const parts = first.split('.').map(Number);
  const last = parts[3] ?? 0;
  for (let i = 1; i <= range && last + i <= 255; i++) out.push([...parts.slice(0, 3), last + i].join('.'));
  return out;
}
