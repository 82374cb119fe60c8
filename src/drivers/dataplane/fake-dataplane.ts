import { canonicalContent } from './content-canonical.ts';
import { checkContent, describeRefusals } from './content-check.ts';
import { diffServices } from './content-diff.ts';
import type { ApplyStats, Dataplane, DataplaneContent, DataplaneKind, Probe, Service } from './dataplane.ts';
import { DataplaneError } from './dataplane.ts';
import { IPVS_CAPABILITIES, IPVS_SCHEDULERS } from './ipvs-capabilities.ts';
import { NFT_CAPABILITIES, prepareForNftables } from './nft-refusals.ts';

// An in-memory dataplane for the layers above (planner, reconcile loop): it holds what it
// was given, in the same canonical form as the real drivers read back, refuses what the
// dataplane it stands for refuses (as nftables: the same checks, the same words), applies
// all or nothing and counts what changed. Hooks let a test make the "kernel" reject the
// next apply, change the content behind the driver's back, or be missing altogether.

export interface FakeDataplaneOptions {
  /** Which dataplane it stands for (default nftables). */
  kind?: DataplaneKind;
  /** When set, probe() reports this, and read/apply/clear fail with it. */
  unavailable?: string;
  /** The "kernel" the content lives in; pass one object to two fakes to stand for a restarted agent. */
  kernel?: FakeKernel;
}

export interface FakeKernel {
  services: Service[];
}

export interface FakeDataplane extends Dataplane {
  /** The next apply is rejected as the kernel would reject it (content left as it was). */
  rejectNextApply(message?: string): void;
  /** Changes the held content as an outside hand would (drift). */
  tamper(content: DataplaneContent): void;
  /** How many applies reached the "kernel", and the stats of each. */
  readonly applied: readonly ApplyStats[];
}

function prepare(kind: DataplaneKind, content: DataplaneContent): Service[] {
  if (kind === 'nftables') {
    const p = prepareForNftables(content);
    if (!p.ok) throw new DataplaneError(kind, describeRefusals(p.refusals), p.refusals[0]?.service);
    return p.services;
  }
  const refusals = checkContent(content);
  for (const s of content.services)
    if (!(IPVS_SCHEDULERS as readonly string[]).includes(s.scheduler))
      refusals.push({
        service: s.key,
        field: 'scheduler',
        message: `scheduler ${s.scheduler} is not an IPVS scheduler (${IPVS_SCHEDULERS.join(', ')})`,
      });
  if (refusals.length > 0) throw new DataplaneError(kind, describeRefusals(refusals), refusals[0]?.service);
  return canonicalContent(content).services;
}

const copy = (services: readonly Service[]): Service[] => structuredClone([...services]);

export function createFakeDataplane(opts: FakeDataplaneOptions = {}): FakeDataplane {
  const kind = opts.kind ?? 'nftables';
  const kernel = opts.kernel ?? { services: [] };
  let reject: string | undefined;
  const applied: ApplyStats[] = [];
  const available = () => {
    if (opts.unavailable !== undefined) throw new DataplaneError(kind, opts.unavailable);
  };

  return {
    kind,
    applied,
    async probe(): Promise<Probe> {
      if (opts.unavailable !== undefined) return { ok: false, kind, message: opts.unavailable };
      return { ok: true, capabilities: kind === 'nftables' ? NFT_CAPABILITIES : IPVS_CAPABILITIES };
    },
    async read() {
      available();
      return { services: copy(kernel.services) };
    },
    async apply(desired) {
      available();
      const after = prepare(kind, desired);
      if (reject !== undefined) {
        const message = reject;
        reject = undefined;
        throw new DataplaneError(kind, `the kernel refused the transaction, content unchanged: ${message}`);
      }
      const diff = diffServices(kernel.services, after);
      kernel.services = copy(after);
      const stats = {
        added: diff.added.length,
        changed: diff.changed.length,
        removed: diff.removed.length,
        ms: 0,
      };
      applied.push(stats);
      return { ...stats };
    },
    async clear() {
      available();
      kernel.services = [];
    },
    rejectNextApply(message = 'injected rejection') {
      reject = message;
    },
    tamper(content) {
      kernel.services = copy(canonicalContent(content).services);
    },
  };
}
