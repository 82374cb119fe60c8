import type { AddressDriver } from '../drivers/addresses/address-driver.ts';
import { parseCidr } from '../model/ip.ts';
import type { Log } from '../vrrp/instance-log.ts';
import type { ApplyJournal } from './apply-journal.ts';

// At agent start, before any instance starts: an apply journal still there means the last
// agent died in the middle of an apply, and the addresses that apply may have added are
// still on the node with nobody to answer for them (the revision the agent starts with may
// not list them at all). No instance holds a VIP at start (they start in Backup), so every
// address the journal names that is on the node goes; then the journal goes.

export async function cleanLeftovers(
  journal: ApplyJournal,
  node: string,
  addresses: AddressDriver,
  log: Log,
): Promise<void> {
  const read = await journal.read();
  if (!read.ok) {
    log({ level: 'warn', event: 'journal-unreadable', message: read.message });
    return;
  }
  const entry = read.entry;
  if (entry === undefined) return;
  if (entry.node !== node) {
    log({
      level: 'warn',
      event: 'journal-foreign',
      node,
      message: `the apply journal in the state directory belongs to node ${entry.node}, not ${node}: left alone; give each agent its own state directory (--state-dir)`,
    });
    return;
  }
  let live: Awaited<ReturnType<AddressDriver['list']>>;
  try {
    live = await addresses.list();
  } catch (e) {
    log({
      level: 'error',
      event: 'leftover-error',
      message: `cannot list the node's addresses to clean up after the interrupted apply of ${entry.revision}: ${errorText(e)}; the journal is kept for the next start`,
    });
    return;
  }
  const present = new Set(live.map((a) => `${a.ifname} ${a.address}`));
  let removed = 0;
  for (const a of entry.addresses) {
    const c = parseCidr(a.address);
    if (c === undefined || !present.has(`${a.dev} ${c.address}/${c.prefix}`)) continue;
    const r = await addresses.remove(a).catch((e: unknown) => ({
      ok: false as const,
      error: { message: errorText(e) },
    }));
    if (r.ok) {
      removed++;
      log({
        level: 'warn',
        event: 'leftover-removed',
        address: a.address,
        dev: a.dev,
        revision: entry.revision,
        message: `left on the node by the interrupted apply of ${entry.revision}`,
      });
    } else
      log({
        level: 'error',
        event: 'leftover-error',
        address: a.address,
        dev: a.dev,
        message: `${r.error.message}; remove it by hand (ip addr del ${a.address} dev ${a.dev}) if no instance of this node holds it`,
      });
  }
  const cleared = await journal.clear();
  if (!cleared.ok) log({ level: 'error', event: 'journal-error', message: cleared.message });
  log({
    level: 'info',
    event: 'journal-recovered',
    revision: entry.revision,
    running: entry.running,
    message: `the agent was stopped in the middle of applying ${entry.revision} (over ${entry.running}); ${removed} address(es) it may have left removed`,
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
