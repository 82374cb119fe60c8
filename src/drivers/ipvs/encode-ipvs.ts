import { inetAddrBytes } from './ip-bytes.ts';
import {
  AF_INET,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_GENL_VERSION,
  IPVS_SVC_ATTR,
  NLM_F,
} from './ip-vs-constants.ts';
import type { IpvsDest, IpvsDestId, IpvsService, IpvsServiceId } from './ipvs-records.ts';
import { genlRequest, HOST_LE, nla } from './netlink-codec.ts';

// IPVS requests as bytes, laid out as ipvsadm's libipvs lays them out (attribute order,
// 16-byte addresses, ip_vs_flags mask ~0), so that any kernel that accepts ipvsadm accepts
// keepgit. Every request asks for an acknowledgement; dumps end with NLMSG_DONE instead.

/** A change to the kernel's IPVS table: what the apply journal records and replays. */
export type IpvsCommand =
  | { op: 'new-service'; service: IpvsService }
  | { op: 'set-service'; service: IpvsService }
  | { op: 'del-service'; service: IpvsServiceId }
  | { op: 'new-dest'; service: IpvsServiceId; dest: IpvsDest }
  | { op: 'set-dest'; service: IpvsServiceId; dest: IpvsDest }
  | { op: 'del-dest'; service: IpvsServiceId; dest: IpvsDestId };

export const COMMAND_NUMBER: Record<IpvsCommand['op'], number> = {
  'new-service': IPVS_CMD.NEW_SERVICE,
  'set-service': IPVS_CMD.SET_SERVICE,
  'del-service': IPVS_CMD.DEL_SERVICE,
  'new-dest': IPVS_CMD.NEW_DEST,
  'set-dest': IPVS_CMD.SET_DEST,
  'del-dest': IPVS_CMD.DEL_DEST,
};

/** The attributes that name a service (all that DEL_SERVICE and the dest commands need). */
function serviceIdAttrs(s: IpvsServiceId): Uint8Array[] {
  const out = [nla.u16(IPVS_SVC_ATTR.AF, s.af)];
  if (s.fwmark !== 0) out.push(nla.u32(IPVS_SVC_ATTR.FWMARK, s.fwmark));
  else
    out.push(
      nla.u16(IPVS_SVC_ATTR.PROTOCOL, s.protocol),
      nla.bytes(IPVS_SVC_ATTR.ADDR, inetAddrBytes(s.af, s.addr)),
      nla.be16(IPVS_SVC_ATTR.PORT, s.port),
    );
  return out;
}

/** struct ip_vs_flags { __u32 flags; __u32 mask; }: mask ~0 sets every flag to what we say. */
function flagsStruct(flags: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, flags >>> 0, HOST_LE);
  v.setUint32(4, 0xffffffff, HOST_LE);
  return out;
}

/** IPVS_CMD_ATTR_SERVICE; `full` adds what NEW_SERVICE and SET_SERVICE require. */
export function serviceAttr(s: IpvsServiceId | IpvsService, full: boolean): Uint8Array {
  const attrs = serviceIdAttrs(s);
  if (full && 'scheduler' in s) {
    attrs.push(nla.string(IPVS_SVC_ATTR.SCHED_NAME, s.scheduler));
    if (s.peName !== undefined) attrs.push(nla.string(IPVS_SVC_ATTR.PE_NAME, s.peName));
    attrs.push(
      nla.bytes(IPVS_SVC_ATTR.FLAGS, flagsStruct(s.flags)),
      nla.u32(IPVS_SVC_ATTR.TIMEOUT, s.timeout),
      // The IPv4 mask travels in network order; the IPv6 prefix length as a plain u32.
      s.af === AF_INET
        ? nla.be32(IPVS_SVC_ATTR.NETMASK, s.netmask)
        : nla.u32(IPVS_SVC_ATTR.NETMASK, s.netmask),
    );
  }
  return nla.nested(IPVS_CMD_ATTR.SERVICE, attrs);
}

/** IPVS_CMD_ATTR_DEST; `full` adds what NEW_DEST and SET_DEST require. */
export function destAttr(d: IpvsDestId | IpvsDest, full: boolean): Uint8Array {
  const attrs = [
    nla.u16(IPVS_DEST_ATTR.ADDR_FAMILY, d.af),
    nla.bytes(IPVS_DEST_ATTR.ADDR, inetAddrBytes(d.af, d.addr)),
    nla.be16(IPVS_DEST_ATTR.PORT, d.port),
  ];
  if (full && 'weight' in d)
    attrs.push(
      nla.u32(IPVS_DEST_ATTR.FWD_METHOD, d.fwdMethod),
      nla.u32(IPVS_DEST_ATTR.WEIGHT, d.weight),
      nla.u32(IPVS_DEST_ATTR.U_THRESH, d.uThreshold),
      nla.u32(IPVS_DEST_ATTR.L_THRESH, d.lThreshold),
    );
  return nla.nested(IPVS_CMD_ATTR.DEST, attrs);
}

const DO = NLM_F.REQUEST | NLM_F.ACK;
const DUMP = NLM_F.REQUEST | NLM_F.DUMP;

export function encodeCommand(family: number, seq: number, c: IpvsCommand): Uint8Array {
  const cmd = COMMAND_NUMBER[c.op];
  const attrs =
    c.op === 'new-service' || c.op === 'set-service'
      ? [serviceAttr(c.service, true)]
      : c.op === 'del-service'
        ? [serviceAttr(c.service, false)]
        : [serviceAttr(c.service, false), destAttr(c.dest, c.op !== 'del-dest')];
  return genlRequest(family, cmd, IPVS_GENL_VERSION, DO, seq, attrs);
}

/** IPVS_CMD_GET_SERVICE as a dump: every service in this network namespace. */
export function encodeGetServices(family: number, seq: number): Uint8Array {
  return genlRequest(family, IPVS_CMD.GET_SERVICE, IPVS_GENL_VERSION, DUMP, seq, []);
}

/** IPVS_CMD_GET_DEST as a dump: the destinations of one service. */
export function encodeGetDests(family: number, seq: number, service: IpvsServiceId): Uint8Array {
  return genlRequest(family, IPVS_CMD.GET_DEST, IPVS_GENL_VERSION, DUMP, seq, [serviceAttr(service, false)]);
}

/** IPVS_CMD_GET_INFO: the version and connection table size (and whether we may ask). */
export function encodeGetInfo(family: number, seq: number): Uint8Array {
  return genlRequest(family, IPVS_CMD.GET_INFO, IPVS_GENL_VERSION, DO, seq, []);
}
