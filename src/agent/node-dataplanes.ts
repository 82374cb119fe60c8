import { join } from 'node:path';
import type { Dataplane } from '../drivers/dataplane/dataplane.ts';
import { createNftDataplane } from '../drivers/dataplane/nft-dataplane.ts';
import { createIpvsDataplane } from '../drivers/ipvs/ipvs-dataplane.ts';
import { fileOwnership } from '../drivers/ipvs/ipvs-ownership.ts';

// The real dataplanes an agent chooses from. Loaded only by agents whose node runs virtual
// servers, so a VRRP-only node carries neither driver in memory.

/** `stateDir` keeps what the agent must remember across restarts: the IPVS services it created. */
export function nodeDataplanes(stateDir: string): { ipvs: Dataplane; nftables: Dataplane } {
  return {
    ipvs: createIpvsDataplane({ ownership: fileOwnership(join(stateDir, 'ipvs-owned.json')) }),
    nftables: createNftDataplane(),
  };
}
