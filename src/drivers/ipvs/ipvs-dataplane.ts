import { performance } from 'node:perf_hooks';
import {
  type ApplyStats,
  type Dataplane,
  type DataplaneContent,
  DataplaneError,
  type Probe,
} from '../dataplane/dataplane.ts';
import { IPVS_CAPABILITIES } from '../dataplane/ipvs-capabilities.ts';
import type { GenlSocket } from './genl-socket.ts';
import { IpvsClient } from './ipvs-client.ts';
import { errnoName, NO_IPVS_MESSAGE } from './ipvs-errors.ts';
import { memoryOwnership, type OwnedService, type OwnershipStore } from './ipvs-ownership.ts';
import { describeService, type IpvsService, serviceIdKey, serviceIdOf } from './ipvs-records.ts';
import { fromIpvs, toIpvs } from './ipvs-service-map.ts';
import { openGenlSocket } from './netlink-genl-socket.ts';
import { type OwnedEntry, planIpvsApply } from './plan-ipvs-apply.ts';
import { runIpvsJournal } from './run-ipvs-journal.ts';

// The IPVS dataplane: the Dataplane interface over generic netlink. It owns the services
// it created (remembered in an OwnershipStore) and nothing else: no flush, no takeover of
// a service someone else made, even one that collides with a desired one (kube-vip's IPVS
// entries fighting kube-proxy's over the same service is the failure this prevents).
// Applies are planned by planIpvsApply and journaled by runIpvsJournal.

export interface IpvsDataplaneOptions {
  /** Opens the generic netlink socket, once, on first use (default: the real kernel). */
  openSocket?: () => GenlSocket;
  /** What keepgit remembers creating (default: in memory, lost with the process). */
  ownership?: OwnershipStore;
  /**
   * Treat live services that match a desired one as keepgit's: only for the first apply
   * after the ownership file was lost, on a node where nothing else manages IPVS.
   */
  adoptExisting?: boolean;
}

export interface IpvsDataplane extends Dataplane {
  /** Closes the socket; the dataplane opens a new one if used again. */
  close(): void;
}

function fail(message: string, service?: string): DataplaneError {
  return new DataplaneError('ipvs', message, service);
}

function asDataplaneError(e: unknown): DataplaneError {
  if (e instanceof DataplaneError) return e;
  return fail(`IPVS: ${e instanceof Error ? e.message : String(e)}`);
}

interface Desired {
  entries: OwnedEntry[];
  owned: OwnedService[];
}

function mapDesired(content: DataplaneContent): Desired {
  const problems: string[] = [];
  const entries: OwnedEntry[] = [];
  const owned: OwnedService[] = [];
  const byId = new Map<string, string>();
  let first: string | undefined;
  for (const s of content.services) {
    const m = toIpvs(s);
    if (!m.ok) {
      first ??= s.key;
      problems.push(...m.errors.map((e) => `virtual server ${s.key}: ${e}`));
      continue;
    }
    const id = serviceIdKey(m.entry.service);
    const other = byId.get(id);
    if (other !== undefined) {
      first ??= s.key;
      problems.push(
        `virtual servers ${other} and ${s.key} are the same IPVS service ${describeService(m.entry.service)}; give one another address, port, protocol or fwmark`,
      );
      continue;
    }
    byId.set(id, s.key);
    entries.push({ key: s.key, ...m.entry });
    owned.push({ key: s.key, id: serviceIdOf(m.entry.service), protocol: s.protocol });
  }
  if (problems.length > 0) throw fail(problems.join('; '), first);
  return { entries, owned };
}

function foreignMessage(key: string, s: IpvsService): string {
  return (
    `IPVS service ${describeService(s)} (virtual server ${key}) already exists and keepgit did not create it: ` +
    'another manager owns it (kube-proxy, kube-vip, ipvsadm or keepalived). keepgit never takes over or flushes ' +
    'IPVS services it does not own, because two managers rewriting one service undo each other forever; ' +
    'remove it there, or give the virtual server another address, port or fwmark'
  );
}

class IpvsDataplaneImpl implements IpvsDataplane {
  readonly kind = 'ipvs' as const;
  private client: IpvsClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ownership: OwnershipStore;

  constructor(private readonly options: IpvsDataplaneOptions) {
    this.ownership = options.ownership ?? memoryOwnership();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private open(): IpvsClient {
    this.client ??= new IpvsClient((this.options.openSocket ?? openGenlSocket)());
    return this.client;
  }

  /** The IPVS family id, or a DataplaneError saying why IPVS cannot be used. */
  private async family(client: IpvsClient): Promise<number> {
    const f = await client.family();
    if (f.ok) return f.value.id;
    if (errnoName(f.error.errno) === 'ENOENT') throw fail(NO_IPVS_MESSAGE);
    throw fail(`cannot look up the IPVS generic netlink family: the kernel said ${errnoName(f.error.errno)}`);
  }

  probe(): Promise<Probe> {
    return this.serial(async () => {
      try {
        let client: IpvsClient;
        try {
          client = this.open();
        } catch (e) {
          return {
            ok: false,
            kind: 'ipvs',
            message: `cannot open a generic netlink socket (${(e as Error).message}); use dataplane: nftables`,
          };
        }
        const family = await this.family(client);
        const info = await client.info(family);
        if (!info.ok) {
          const name = errnoName(info.error.errno);
          return {
            ok: false,
            kind: 'ipvs',
            message:
              name === 'EPERM' || name === 'EACCES'
                ? `the kernel has IPVS but refuses keepgit (${name}): the agent needs CAP_NET_ADMIN (run it as root or grant the capability)`
                : `the kernel has IPVS but refused IPVS_CMD_GET_INFO (${name})`,
          };
        }
        return { ok: true, capabilities: IPVS_CAPABILITIES };
      } catch (e) {
        return { ok: false, kind: 'ipvs', message: asDataplaneError(e).message };
      }
    });
  }

  /** Every service in the kernel, keepgit's or not, by identity. */
  private async services(client: IpvsClient, family: number): Promise<Map<string, IpvsService>> {
    const dump = await client.services(family);
    if (!dump.ok) throw fail(`cannot list IPVS services: the kernel said ${errnoName(dump.error.errno)}`);
    return new Map(dump.value.map((s) => [serviceIdKey(s), s]));
  }

  /** The owned services among `all`, with their destinations. */
  private async mine(
    client: IpvsClient,
    family: number,
    all: ReadonlyMap<string, IpvsService>,
    owned: ReadonlyMap<string, OwnedService>,
  ): Promise<OwnedEntry[]> {
    const out: OwnedEntry[] = [];
    for (const [id, service] of all) {
      const o = owned.get(id);
      if (o === undefined) continue;
      const dests = await client.dests(family, service);
      if (!dests.ok)
        throw fail(
          `cannot list the real servers of IPVS service ${describeService(service)}: the kernel said ${errnoName(dests.error.errno)}`,
          o.key,
        );
      out.push({ key: o.key, service, dests: dests.value });
    }
    return out;
  }

  private async loadOwned(): Promise<OwnedService[]> {
    try {
      return await this.ownership.load();
    } catch (e) {
      throw fail(`cannot tell which IPVS services are keepgit's: ${(e as Error).message}`);
    }
  }

  read(): Promise<DataplaneContent> {
    return this.serial(async () => {
      try {
        const client = this.open();
        const family = await this.family(client);
        const owned = new Map((await this.loadOwned()).map((o) => [serviceIdKey(o.id), o]));
        const mine = await this.mine(client, family, await this.services(client, family), owned);
        return {
          services: mine.map((e) => fromIpvs(e, e.key, owned.get(serviceIdKey(e.service))?.protocol)),
        };
      } catch (e) {
        throw asDataplaneError(e);
      }
    });
  }

  apply(desired: DataplaneContent): Promise<ApplyStats> {
    return this.serial(() =>
      this.applyNow(desired).catch((e: unknown) => Promise.reject(asDataplaneError(e))),
    );
  }

  private async applyNow(content: DataplaneContent): Promise<ApplyStats> {
    const desired = mapDesired(content);
    const client = this.open();
    const family = await this.family(client);
    const before = await this.loadOwned();
    const owned = new Map(before.map((o) => [serviceIdKey(o.id), o]));
    const adopted: OwnedService[] = [];
    const all = await this.services(client, family);
    const foreign: string[] = [];
    let firstForeign: string | undefined;
    for (const [i, e] of desired.entries.entries()) {
      const id = serviceIdKey(e.service);
      const present = all.get(id);
      if (present === undefined || owned.has(id)) continue;
      const mine = desired.owned[i];
      if (this.options.adoptExisting && mine !== undefined) {
        adopted.push(mine);
        owned.set(id, mine);
        continue;
      }
      firstForeign ??= e.key;
      foreign.push(foreignMessage(e.key, present));
    }
    if (foreign.length > 0) throw fail(foreign.join('; '), firstForeign);

    const mine = await this.mine(client, family, all, owned);
    const plan = planIpvsApply(mine, desired.entries);
    if (plan.steps.length > 0) {
      // Remember the new services before creating them: a crash half-way must not leave
      // keepgit's own services looking foreign to the next run.
      const union = new Map(owned);
      for (const o of desired.owned) union.set(serviceIdKey(o.id), o);
      await this.save([...union.values()], 'before applying');
    }
    const started = performance.now();
    const outcome = await runIpvsJournal(plan.steps, (c) => client.exec(family, c));
    const ms = performance.now() - started;
    if (!outcome.ok) {
      await this.save([...before, ...adopted], 'after rolling back').catch(() => undefined);
      const rollback =
        outcome.undoFailures.length === 0
          ? outcome.failedAt === 0
            ? 'nothing had changed yet'
            : `the ${outcome.failedAt} change(s) before it were undone, IPVS holds the previous content again`
          : `rollback incomplete (${outcome.undoFailures.join('; ')}); the next reconcile reads the kernel again and repairs what it can`;
      throw fail(`${outcome.message}; ${rollback}`, outcome.step.key);
    }
    await this.save(desired.owned, 'after applying').catch(() => undefined);
    return { added: plan.added.length, changed: plan.changed.length, removed: plan.removed.length, ms };
  }

  private async save(owned: OwnedService[], when: string): Promise<void> {
    try {
      await this.ownership.save(owned);
    } catch (e) {
      throw fail(`cannot record which IPVS services are keepgit's (${when}): ${(e as Error).message}`);
    }
  }

  clear(): Promise<void> {
    return this.apply({ services: [] }).then(() => undefined);
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

export function createIpvsDataplane(options: IpvsDataplaneOptions = {}): IpvsDataplane {
  return new IpvsDataplaneImpl(options);
}
