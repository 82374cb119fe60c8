import { inetAddrText } from './ip-bytes.ts';
import {
  AF_INET,
  AF_INET6,
  IP_VS_SVC_F,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_INFO_ATTR,
  IPVS_SVC_ATTR,
  NLMSG,
} from './ip-vs-constants.ts';
import type { IpvsAf, IpvsDest, IpvsDestId, IpvsService, IpvsServiceId } from './ipvs-records.ts';
import {
  attrMap,
  decodeDone,
  decodeError,
  HOST_LE,
  MalformedNetlink,
  type NlError,
  type NlMessage,
  read,
  splitGenl,
} from './netlink-codec.ts';

// IPVS replies (and, for the fake kernel, requests) back into records. The kernel nests
// without NLA_F_NESTED, sends 16-byte addresses for both families, the port in network
// order and statistics we skip.

function af(n: number): IpvsAf {
  if (n === AF_INET || n === AF_INET6) return n;
  throw new MalformedNetlink(`address family ${n} is neither AF_INET nor AF_INET6`);
}

function addr(family: IpvsAf, data: Uint8Array | undefined, what: string): string {
  const want = family === AF_INET ? 4 : 16;
  if (data === undefined || data.length < want)
    throw new MalformedNetlink(`${what}: expected ${want} address bytes, got ${data?.length ?? 'none'}`);
  return inetAddrText(family, data);
}

export function decodeServiceId(a: Map<number, Uint8Array>): IpvsServiceId {
  const family = af(read.u16(a.get(IPVS_SVC_ATTR.AF), 'IPVS_SVC_ATTR_AF'));
  const fwmark = a.has(IPVS_SVC_ATTR.FWMARK)
    ? read.u32(a.get(IPVS_SVC_ATTR.FWMARK), 'IPVS_SVC_ATTR_FWMARK')
    : 0;
  // As the kernel does: a non-zero fwmark names the service, whatever else is there.
  if (fwmark !== 0) return { af: family, fwmark, protocol: 0, addr: '', port: 0 };
  return {
    af: family,
    fwmark: 0,
    protocol: read.u16(a.get(IPVS_SVC_ATTR.PROTOCOL), 'IPVS_SVC_ATTR_PROTOCOL'),
    addr: addr(family, a.get(IPVS_SVC_ATTR.ADDR), 'IPVS_SVC_ATTR_ADDR'),
    port: read.be16(a.get(IPVS_SVC_ATTR.PORT), 'IPVS_SVC_ATTR_PORT'),
  };
}

const FULL_SERVICE = [
  IPVS_SVC_ATTR.SCHED_NAME,
  IPVS_SVC_ATTR.FLAGS,
  IPVS_SVC_ATTR.TIMEOUT,
  IPVS_SVC_ATTR.NETMASK,
];

/** The contents of IPVS_CMD_ATTR_SERVICE; `service` only when every full-entry field is there. */
export function decodeServiceAttrs(data: Uint8Array): { id: IpvsServiceId; service?: IpvsService } {
  const a = attrMap(data);
  const id = decodeServiceId(a);
  if (!FULL_SERVICE.every((t) => a.has(t))) return { id };
  const flagsData = a.get(IPVS_SVC_ATTR.FLAGS);
  if (flagsData === undefined || flagsData.length < 8)
    throw new MalformedNetlink(`IPVS_SVC_ATTR_FLAGS: expected struct ip_vs_flags (8 bytes)`);
  const fv = new DataView(flagsData.buffer, flagsData.byteOffset, 8);
  const netmaskData = a.get(IPVS_SVC_ATTR.NETMASK);
  const service: IpvsService = {
    ...id,
    scheduler: read.string(a.get(IPVS_SVC_ATTR.SCHED_NAME), 'IPVS_SVC_ATTR_SCHED_NAME'),
    flags: fv.getUint32(0, HOST_LE) & ~IP_VS_SVC_F.HASHED,
    timeout: read.u32(a.get(IPVS_SVC_ATTR.TIMEOUT), 'IPVS_SVC_ATTR_TIMEOUT'),
    netmask:
      id.af === AF_INET
        ? read.be32(netmaskData, 'IPVS_SVC_ATTR_NETMASK')
        : read.u32(netmaskData, 'IPVS_SVC_ATTR_NETMASK'),
  };
  if (a.has(IPVS_SVC_ATTR.PE_NAME)) service.peName = read.string(a.get(IPVS_SVC_ATTR.PE_NAME), 'PE_NAME');
  return { id, service };
}

/** The flags as sent, with the mask: what SET_SERVICE merges into the service's flags. */
export function decodeServiceFlags(data: Uint8Array): { flags: number; mask: number } | undefined {
  const f = attrMap(data).get(IPVS_SVC_ATTR.FLAGS);
  if (f === undefined || f.length < 8) return undefined;
  const v = new DataView(f.buffer, f.byteOffset, 8);
  return { flags: v.getUint32(0, HOST_LE), mask: v.getUint32(4, HOST_LE) };
}

const FULL_DEST = [
  IPVS_DEST_ATTR.FWD_METHOD,
  IPVS_DEST_ATTR.WEIGHT,
  IPVS_DEST_ATTR.U_THRESH,
  IPVS_DEST_ATTR.L_THRESH,
];

/** The contents of IPVS_CMD_ATTR_DEST; without ADDR_FAMILY the service's family applies. */
export function decodeDestAttrs(data: Uint8Array, serviceAf: IpvsAf): { id: IpvsDestId; dest?: IpvsDest } {
  const a = attrMap(data);
  const family = a.has(IPVS_DEST_ATTR.ADDR_FAMILY)
    ? af(read.u16(a.get(IPVS_DEST_ATTR.ADDR_FAMILY), 'IPVS_DEST_ATTR_ADDR_FAMILY'))
    : serviceAf;
  const id: IpvsDestId = {
    af: family,
    addr: addr(family, a.get(IPVS_DEST_ATTR.ADDR), 'IPVS_DEST_ATTR_ADDR'),
    port: read.be16(a.get(IPVS_DEST_ATTR.PORT), 'IPVS_DEST_ATTR_PORT'),
  };
  if (!FULL_DEST.every((t) => a.has(t))) return { id };
  return {
    id,
    dest: {
      ...id,
      fwdMethod: read.u32(a.get(IPVS_DEST_ATTR.FWD_METHOD), 'IPVS_DEST_ATTR_FWD_METHOD'),
      weight: read.u32(a.get(IPVS_DEST_ATTR.WEIGHT), 'IPVS_DEST_ATTR_WEIGHT') | 0,
      uThreshold: read.u32(a.get(IPVS_DEST_ATTR.U_THRESH), 'IPVS_DEST_ATTR_U_THRESH'),
      lThreshold: read.u32(a.get(IPVS_DEST_ATTR.L_THRESH), 'IPVS_DEST_ATTR_L_THRESH'),
    },
  };
}

/** The top-level attributes of one IPVS message. */
export function commandAttrs(m: NlMessage): { cmd: number; attrs: Map<number, Uint8Array> } {
  const g = splitGenl(m);
  return { cmd: g.cmd, attrs: attrMap(g.attrs) };
}

function nested(attrs: Map<number, Uint8Array>, type: number, what: string): Uint8Array {
  const data = attrs.get(type);
  if (data === undefined) throw new MalformedNetlink(`${what} missing from the kernel's reply`);
  return data;
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: NlError };

/**
 * A dump's messages (for one sequence number) into items: entries of the family's type,
 * until NLMSG_DONE; an NLMSG_ERROR (or a DONE carrying an errno) fails the whole dump.
 */
function decodeDump<T>(messages: readonly NlMessage[], family: number, one: (m: NlMessage) => T): Reply<T[]> {
  const items: T[] = [];
  for (const m of messages) {
    if (m.type === NLMSG.ERROR) {
      const e = decodeError(m);
      if (e.errno !== 0) return { ok: false, error: e };
      continue;
    }
    if (m.type === NLMSG.DONE) {
      const e = decodeDone(m);
      return e.errno !== 0 ? { ok: false, error: e } : { ok: true, value: items };
    }
    if (m.type === family) items.push(one(m));
  }
  throw new MalformedNetlink('dump ended without NLMSG_DONE');
}

export function decodeServiceDump(messages: readonly NlMessage[], family: number): Reply<IpvsService[]> {
  return decodeDump(messages, family, (m) => {
    const { service, id } = decodeServiceAttrs(
      nested(commandAttrs(m).attrs, IPVS_CMD_ATTR.SERVICE, 'IPVS_CMD_ATTR_SERVICE'),
    );
    if (service === undefined)
      throw new MalformedNetlink(
        `service ${JSON.stringify(id)} in a dump lacks scheduler, flags, timeout or netmask`,
      );
    return service;
  });
}

export function decodeDestDump(
  messages: readonly NlMessage[],
  family: number,
  serviceAf: IpvsAf,
): Reply<IpvsDest[]> {
  return decodeDump(messages, family, (m) => {
    const { dest, id } = decodeDestAttrs(
      nested(commandAttrs(m).attrs, IPVS_CMD_ATTR.DEST, 'IPVS_CMD_ATTR_DEST'),
      serviceAf,
    );
    if (dest === undefined)
      throw new MalformedNetlink(`destination ${JSON.stringify(id)} in a dump lacks forwarding or weight`);
    return dest;
  });
}

/** The acknowledgement that ends a request (NLMSG_ERROR with 0, or an errno). */
export function decodeAck(messages: readonly NlMessage[]): NlError {
  const last = [...messages].reverse().find((m) => m.type === NLMSG.ERROR);
  if (last === undefined) throw new MalformedNetlink('no acknowledgement (NLMSG_ERROR) in the reply');
  return decodeError(last);
}

export interface IpvsInfo {
  /** IP_VS_VERSION_CODE, e.g. 0x010201 for 1.2.1. */
  version: number;
  connTabSize: number;
}

export function decodeInfo(messages: readonly NlMessage[], family: number): Reply<IpvsInfo> {
  const ack = decodeAck(messages);
  if (ack.errno !== 0) return { ok: false, error: ack };
  const m = messages.find((x) => x.type === family);
  if (m === undefined) throw new MalformedNetlink('IPVS_CMD_GET_INFO: no reply before the acknowledgement');
  const { attrs } = commandAttrs(m);
  return {
    ok: true,
    value: {
      version: read.u32(attrs.get(IPVS_INFO_ATTR.VERSION), 'IPVS_INFO_ATTR_VERSION'),
      connTabSize: read.u32(attrs.get(IPVS_INFO_ATTR.CONN_TAB_SIZE), 'IPVS_INFO_ATTR_CONN_TAB_SIZE'),
    },
  };
}

export function versionText(code: number): string {
  return `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`;
}
