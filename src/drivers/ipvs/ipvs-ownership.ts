import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Protocol } from '../dataplane/dataplane.ts';
import type { IpvsServiceId } from './ipvs-records.ts';

// Which IPVS services keepgit created. The kernel keeps no owner or comment on a service,
// so this memory is the only thing that tells keepgit's services from kube-proxy's,
// kube-vip's, ipvsadm's or keepalived's; keepgit touches nothing it does not list here or
// in the desired content. It is a cache in the state directory: lost, keepgit refuses to
// take over services that match its desired ones until told to adopt them.

export interface OwnedService {
  /** The virtual server's key. */
  key: string;
  id: IpvsServiceId;
  /** Kept because the kernel forgets the protocol of fwmark services. */
  protocol: Protocol;
}

export interface OwnershipStore {
  load(): Promise<OwnedService[]>;
  save(owned: readonly OwnedService[]): Promise<void>;
}

export function memoryOwnership(initial: readonly OwnedService[] = []): OwnershipStore {
  let owned = structuredClone([...initial]);
  return {
    load: async () => structuredClone(owned),
    save: async (next) => {
      owned = structuredClone([...next]);
    },
  };
}

function isOwned(x: unknown): x is OwnedService {
  const o = x as OwnedService | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.key === 'string' &&
    (o.protocol === 'TCP' || o.protocol === 'UDP' || o.protocol === 'SCTP') &&
    typeof o.id === 'object' &&
    o.id !== null &&
    (o.id.af === 2 || o.id.af === 10) &&
    typeof o.id.fwmark === 'number' &&
    typeof o.id.protocol === 'number' &&
    typeof o.id.addr === 'string' &&
    typeof o.id.port === 'number'
  );
}

/** A JSON file (e.g. STATE_DIR/ipvs-owned.json), replaced atomically on every save. */
export function fileOwnership(path: string): OwnershipStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new Error(`cannot read ${path}: ${(e as Error).message}`);
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
      const list = (data as { services?: unknown } | undefined)?.services;
      if (!Array.isArray(list) || !list.every(isOwned))
        throw new Error(
          `${path} is not a keepgit IPVS ownership file; move it away and restart with IPVS adoption on if the services it listed are keepgit's`,
        );
      return list;
    },
    async save(owned) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify({ services: owned }, null, 2)}\n`);
      await rename(tmp, path);
    },
  };
}
