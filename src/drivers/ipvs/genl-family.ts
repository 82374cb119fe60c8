import { commandAttrs, decodeAck, type Reply } from './decode-ipvs.ts';
import { CTRL_ATTR, CTRL_CMD, CTRL_VERSION, GENL_ID_CTRL, NLM_F, NLMSG } from './ip-vs-constants.ts';
import { genlRequest, MalformedNetlink, type NlMessage, nla, read } from './netlink-codec.ts';

// The generic netlink controller (nlctrl): a family such as "IPVS" has no fixed message
// type, the kernel hands one out when the module registers; CTRL_CMD_GETFAMILY asks for it.
// ENOENT is the kernel's way of saying that no such family is registered.

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  maxAttr: number;
}

export function encodeGetFamily(seq: number, name: string): Uint8Array {
  return genlRequest(GENL_ID_CTRL, CTRL_CMD.GETFAMILY, CTRL_VERSION, NLM_F.REQUEST | NLM_F.ACK, seq, [
    nla.string(CTRL_ATTR.FAMILY_NAME, name),
  ]);
}

/** Every registered family (a dump), for tests and diagnostics. */
export function encodeListFamilies(seq: number): Uint8Array {
  return genlRequest(GENL_ID_CTRL, CTRL_CMD.GETFAMILY, CTRL_VERSION, NLM_F.REQUEST | NLM_F.DUMP, seq, []);
}

function family(m: NlMessage): GenlFamily {
  const { attrs } = commandAttrs(m);
  return {
    id: read.u16(attrs.get(CTRL_ATTR.FAMILY_ID), 'CTRL_ATTR_FAMILY_ID'),
    name: read.string(attrs.get(CTRL_ATTR.FAMILY_NAME), 'CTRL_ATTR_FAMILY_NAME'),
    version: attrs.has(CTRL_ATTR.VERSION) ? read.u32(attrs.get(CTRL_ATTR.VERSION), 'CTRL_ATTR_VERSION') : 0,
    maxAttr: attrs.has(CTRL_ATTR.MAXATTR) ? read.u32(attrs.get(CTRL_ATTR.MAXATTR), 'CTRL_ATTR_MAXATTR') : 0,
  };
}

/** The reply to encodeGetFamily: the family, or the errno (ENOENT: not registered). */
export function decodeGetFamily(messages: readonly NlMessage[]): Reply<GenlFamily> {
  const ack = decodeAck(messages);
  if (ack.errno !== 0) return { ok: false, error: ack };
  const m = messages.find((x) => x.type === GENL_ID_CTRL);
  if (m === undefined) throw new MalformedNetlink('CTRL_CMD_GETFAMILY: acknowledged without a reply');
  return { ok: true, value: family(m) };
}

export function decodeListFamilies(messages: readonly NlMessage[]): GenlFamily[] {
  const out: GenlFamily[] = [];
  for (const m of messages) {
    if (m.type === GENL_ID_CTRL) out.push(family(m));
    if (m.type === NLMSG.DONE) return out;
  }
  throw new MalformedNetlink('family dump ended without NLMSG_DONE');
}
