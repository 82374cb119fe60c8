import type { Dataplane, DataplaneCapabilities, DataplaneKind, Probe } from './dataplane.ts';

// `dataplane: auto | ipvs | nftables`: which kernel dataplane a node uses, and the sentence
// /status shows for it. auto takes IPVS when the kernel has it (where keepalived users
// are), else nftables; a pinned choice the kernel cannot serve is an error, never a
// silent fallback, because a repository that pins ipvs may rely on lc, DR or fwmark.

export type DataplaneChoice = 'auto' | DataplaneKind;

export type DataplaneSelection =
  | { ok: true; dataplane: Dataplane; capabilities: DataplaneCapabilities; reason: string }
  | { ok: false; message: string };

async function safeProbe(d: Dataplane): Promise<Probe> {
  try {
    return await d.probe();
  } catch (e) {
    // probe() promises not to throw; a driver that does still must not take the agent down.
    return {
      ok: false,
      kind: d.kind,
      message: `probe failed: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}

/** The dataplane to use on this node, probing only what the choice needs. */
export async function selectDataplane(
  choice: DataplaneChoice,
  candidates: { ipvs: Dataplane; nftables: Dataplane },
): Promise<DataplaneSelection> {
  if (choice !== 'auto') {
    const d = candidates[choice];
    const p = await safeProbe(d);
    if (p.ok) return { ok: true, dataplane: d, capabilities: p.capabilities, reason: `pinned: ${choice}` };
    return { ok: false, message: `dataplane ${choice} is pinned, but ${p.message}` };
  }
  const ipvs = await safeProbe(candidates.ipvs);
  if (ipvs.ok)
    return {
      ok: true,
      dataplane: candidates.ipvs,
      capabilities: ipvs.capabilities,
      reason: 'auto: kernel has IPVS, using ipvs',
    };
  const nft = await safeProbe(candidates.nftables);
  const why = ipvs.message.startsWith('kernel has no IPVS')
    ? 'kernel has no IPVS'
    : `IPVS unusable (${ipvs.message})`;
  if (nft.ok)
    return {
      ok: true,
      dataplane: candidates.nftables,
      capabilities: nft.capabilities,
      reason: `auto: ${why}, using nftables`,
    };
  return {
    ok: false,
    message: `no load-balancing dataplane works on this node: ipvs: ${ipvs.message}; nftables: ${nft.message}`,
  };
}
