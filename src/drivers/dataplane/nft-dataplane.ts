import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { serviceId } from './content-canonical.ts';
import { describeRefusals } from './content-check.ts';
import { type ContentDiff, type DiffWith, diffServices, isEmptyDiff, sameServices } from './content-diff.ts';
import {
  type ApplyStats,
  type Dataplane,
  type DataplaneContent,
  DataplaneError,
  type Probe,
  type Service,
} from './dataplane.ts';
import { summariseNftErrors } from './nft-errors.ts';
import { DEFAULT_TABLE, persistMap } from './nft-names.ts';
import { parseNftTable } from './nft-parse.ts';
import { persistDeletes, staleTargets } from './nft-persist.ts';
import { NFT_CAPABILITIES, type PrepareCache, prepareForNftables, sameGiven } from './nft-refusals.ts';
import { renderClear, renderFullTable, renderPatch, type Script, scriptText } from './nft-render.ts';
import { type NftResult, type NftRunner, nftRunner } from './nft-runner.ts';

// The nftables dataplane: keepgit's one table (`table inet keepgit_lb`), never any other.
// Every apply is one `nft -f -` transaction, the batch fed through standard input (plain
// text; no file for anyone to swap). When this process applied the table last and nobody
// changed it since, only the elements of the services that differ are patched, with no
// listing first: the patch starts by swapping a generation mark, so a table changed behind
// our back makes it fail whole, and then the table is listed and rewritten from scratch,
// also in one transaction. A rejected transaction leaves the previous table exactly as it
// was.

export interface NftDataplaneOptions {
  /** How to run nft (default: `nft` on this host). */
  runner?: NftRunner;
  /** The table's name in the inet family (default keepgit_lb). */
  table?: string;
  /** Test hook: rewrites every apply batch before nft sees it (the atomicity test breaks one). */
  mangleBatch?: (text: string) => string;
}

interface Applied {
  services: Service[];
  gen: number;
}

/** Diffs between services the driver prepared or parsed itself (never changed afterwards). */
const OWN: DiffWith = { id: serviceId, same: sameGiven };

const TABLE_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function createNftDataplane(opts: NftDataplaneOptions = {}): Dataplane {
  const run = opts.runner ?? nftRunner();
  const table = opts.table ?? DEFAULT_TABLE;
  if (!TABLE_RE.test(table))
    throw new Error(`nftables table name "${table}": a letter, then letters, digits or _`);
  /** What this process applied last; trusted only while the kernel's generation mark matches. */
  let last: Applied | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  /** Each service as given last time → the checked, canonical service. */
  const prepareCache: PrepareCache = new Map();

  // One operation at a time: a patch is computed against the previous apply's result.
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f, f);
    queue = p.catch(() => undefined);
    return p;
  };

  /** One transaction: `nft -f -` with the batch on standard input, timed. */
  const runBatch = async (
    text: string,
    extra: readonly string[] = [],
  ): Promise<NftResult & { ms: number }> => {
    const t0 = performance.now();
    const r = await run([...extra, '-f', '-'], text);
    return { ...r, ms: performance.now() - t0 };
  };

  const fail = (what: string, r: NftResult, script?: Script): DataplaneError => {
    if (r.status === 127)
      return new DataplaneError('nftables', `nft not found (${r.stderr.trim()}): install nftables`);
    const c = summariseNftErrors(r.stderr, script);
    return new DataplaneError('nftables', `${what}: ${c.message}`, c.service);
  };

  const apply1 = (script: Script) => {
    const text = scriptText(script);
    return runBatch(opts.mangleBatch ? opts.mangleBatch(text) : text);
  };

  const newGen = (old?: number) => {
    let g = randomInt(1, 0xffffffff);
    while (g === old) g = randomInt(1, 0xffffffff);
    return g;
  };

  const readKernel = async () => {
    const r = await run(['-j', 'list', 'table', 'inet', table]);
    if (r.status !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw fail(`cannot list table inet ${table}`, r);
    }
    try {
      return parseNftTable(JSON.parse(r.stdout));
    } catch {
      throw new DataplaneError(
        'nftables',
        `nft -j list table inet ${table} did not print JSON: ${r.stdout.slice(0, 200)}`,
      );
    }
  };

  const kernelGen = async (): Promise<number | undefined> => {
    const r = await run(['-j', 'list', 'set', 'inet', table, 'gen']);
    if (r.status !== 0) return undefined;
    try {
      return parseNftTable(JSON.parse(r.stdout)).gen;
    } catch {
      return undefined;
    }
  };

  const read = async (): Promise<DataplaneContent> => {
    const parsed = await readKernel();
    const services = parsed?.content.services ?? [];
    // The kernel is the truth: a copy that disagrees with it is dropped, and the next
    // apply rewrites the table.
    if (
      last !== undefined &&
      (!parsed?.clean || parsed.gen !== last.gen || !sameServices(services, last.services, OWN))
    )
      last = undefined;
    return { services };
  };

  /** Persistent clients of real servers that go away, as deletions for the same patch. */
  const stalePersistence = async (diff: ContentDiff) => {
    const out: { map: string; key: string }[] = [];
    for (const [protocol, targets] of staleTargets(diff)) {
      const r = await run(['-j', 'list', 'map', 'inet', table, persistMap(protocol)]);
      if (r.status !== 0) throw fail(`cannot list ${persistMap(protocol)}`, r);
      out.push(...persistDeletes(JSON.parse(r.stdout), protocol, targets));
    }
    return out;
  };

  const tryPatch = async (prev: Applied, after: Service[], diff: ContentDiff) => {
    const gen = newGen(prev.gen);
    let extraDeletes: { map: string; key: string }[];
    try {
      extraDeletes = await stalePersistence(diff);
    } catch {
      return undefined;
    }
    const touched = [
      ...diff.added.map((a) => ({ after: a })),
      ...diff.changed.map((c) => ({ before: c.before, after: c.after })),
      ...diff.removed.map((b) => ({ before: b })),
    ];
    const script = renderPatch({
      table,
      before: prev.services,
      after,
      touched,
      oldGen: prev.gen,
      newGen: gen,
      extraDeletes,
    });
    const r = await apply1(script);
    return { ok: r.status === 0, gen, ms: r.ms };
  };

  const apply = (desired: DataplaneContent): Promise<ApplyStats> =>
    serial(async () => {
      const prev = last;
      // A driver that has not applied yet must learn what the kernel holds (the stats are
      // against it): the listing (read-only) runs while the content is checked and the
      // batch written.
      const early = prev ? undefined : readKernel();
      early?.catch(() => undefined);
      const prepared = prepareForNftables(desired, prepareCache);
      if (!prepared.ok)
        throw new DataplaneError(
          'nftables',
          describeRefusals(prepared.refusals),
          prepared.refusals[0]?.service,
        );
      const after = prepared.services;
      let ms = 0;
      if (prev) {
        const diff = diffServices(prev.services, after, OWN);
        const stats = {
          added: diff.added.length,
          changed: diff.changed.length,
          removed: diff.removed.length,
        };
        // Nothing to change, if the table is still the one we wrote: its generation mark says.
        if (isEmptyDiff(diff) && (await kernelGen()) === prev.gen) return { ...stats, ms: 0 };
        const patched = isEmptyDiff(diff) ? undefined : await tryPatch(prev, after, diff);
        if (patched?.ok) {
          last = { services: after, gen: patched.gen };
          return { ...stats, ms: patched.ms };
        }
        // The table is not what we left (or a persistent client expired under us): rewrite it.
        ms += patched?.ms ?? 0;
      }
      last = undefined;
      const listing = early ?? readKernel();
      const gen = newGen();
      const script = renderFullTable(table, after, gen);
      const before = (await listing)?.content.services ?? [];
      const r = await apply1(script);
      if (r.status !== 0)
        throw fail(`nftables refused the transaction, table inet ${table} unchanged`, r, script);
      last = { services: after, gen };
      const diff = diffServices(before, after, OWN);
      return {
        added: diff.added.length,
        changed: diff.changed.length,
        removed: diff.removed.length,
        ms: ms + r.ms,
      };
    });

  const clear = () =>
    serial(async () => {
      last = undefined;
      const r = await runBatch(renderClear(table));
      if (r.status !== 0) throw fail(`cannot delete table inet ${table}`, r);
    });

  const probe = async (): Promise<Probe> => {
    const v = await run(['--version']);
    if (v.status !== 0)
      return {
        ok: false,
        kind: 'nftables',
        message: `nft not found (${(v.stderr || `exit ${v.status}`).trim()}): install nftables (apt-get install nftables), or use dataplane: ipvs`,
      };
    // A dry run of the whole table: nf_tables, NAT, numgen, jhash and dynamic maps are all
    // checked by the kernel, and nothing is committed.
    const r = await runBatch(scriptText(renderFullTable(table, [], 1)), ['-c']);
    if (r.status !== 0) {
      const c = summariseNftErrors(r.stderr);
      return {
        ok: false,
        kind: 'nftables',
        message: `kernel refused keepgit's nftables table (${c.message}): it needs nf_tables with NAT (modules nf_tables, nft_chain_nat, nft_numgen, nft_hash), or use dataplane: ipvs`,
      };
    }
    return { ok: true, capabilities: NFT_CAPABILITIES };
  };

  return { kind: 'nftables', probe, read: () => serial(read), apply, clear };
}
