import { constants } from 'node:os';
import { IPVS_SCHEDULERS } from '../dataplane/ipvs-capabilities.ts';
import { commandAttrs, decodeDestAttrs, decodeServiceAttrs, decodeServiceFlags } from './decode-ipvs.ts';
import type { GenlSocket } from './genl-socket.ts';
import { inetAddrBytes } from './ip-bytes.ts';
import {
  AF_INET,
  CTRL_ATTR,
  CTRL_CMD,
  GENL_ID_CTRL,
  IP_VS_CONN_F,
  IP_VS_SVC_F,
  IPPROTO,
  IPVS_CMD,
  IPVS_CMD_ATTR,
  IPVS_DEST_ATTR,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  IPVS_INFO_ATTR,
  IPVS_SVC_ATTR,
  NLM_F,
  NLMSG,
} from './ip-vs-constants.ts';
import { errnoName } from './ipvs-errors.ts';
import {
  describeDest,
  describeService,
  destIdKey,
  type IpvsDest,
  type IpvsEntry,
  type IpvsService,
  type IpvsServiceId,
  serviceIdKey,
} from './ipvs-records.ts';
import {
  concat,
  genlHeader,
  HOST_LE,
  MalformedNetlink,
  type NlMessage,
  nla,
  nlmsg,
  read,
  splitMessages,
} from './netlink-codec.ts';

// A kernel with (or without) IPVS, in memory, behind the GenlSocket interface: it reads
// the request bytes, answers with the bytes the kernel sends (ip_vs_ctl.c's checks and
// errnos, acks with NLM_F_CAPPED, dumps nested without NLA_F_NESTED, 16-byte addresses,
// statistics) and keeps a log of what it was asked. Tests inject refusals to drive the
// apply journal's rollback.

const E = constants.errno;
const DEFAULT_FAMILY_ID = 0x25;

export interface FakeIpvsKernelOptions {
  /** Whether the IPVS family is registered (the module loaded). Default true. */
  ipvs?: boolean;
  familyId?: number;
  /** False: every IPVS command is refused with EPERM (no CAP_NET_ADMIN). */
  permitted?: boolean;
  /** Scheduler modules the kernel can load. Default: all of IPVS's. */
  schedulers?: readonly string[];
}

interface HeldService {
  service: IpvsService;
  /** As the kernel holds them: with IP_VS_SVC_F_HASHED. */
  rawFlags: number;
  dests: Map<string, IpvsDest>;
}

interface Failure {
  match: (summary: string, index: number) => boolean;
  errno: number;
  times: number;
}

const MUTATING = new Set<number>([
  IPVS_CMD.NEW_SERVICE,
  IPVS_CMD.SET_SERVICE,
  IPVS_CMD.DEL_SERVICE,
  IPVS_CMD.NEW_DEST,
  IPVS_CMD.SET_DEST,
  IPVS_CMD.DEL_DEST,
  IPVS_CMD.FLUSH,
]);

const IPVS_PROTOCOLS = new Set<number>([IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP]);
const CMD_NAMES = new Map<number, string>(Object.entries(IPVS_CMD).map(([k, v]) => [v, k]));
const FWD_NAMES = new Map<number, string>([
  [IP_VS_CONN_F.MASQ, 'nat'],
  [IP_VS_CONN_F.DROUTE, 'dr'],
  [IP_VS_CONN_F.TUNNEL, 'tun'],
]);

class Refused extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

function noFlagNest(type: number, children: readonly Uint8Array[]): Uint8Array {
  // ip_vs_ctl.c nests with nla_nest_start_noflag: no NLA_F_NESTED on the kernel's replies.
  return nla.bytes(type, concat(children));
}

function u64(type: number): Uint8Array {
  return nla.bytes(type, new Uint8Array(8));
}

function stats(type: number, wide: boolean): Uint8Array {
  const attrs: Uint8Array[] = [];
  for (let t = 1; t <= 10; t++) attrs.push(wide || t === 4 || t === 5 ? u64(t) : nla.u32(t, 0));
  return noFlagNest(type, attrs);
}

export class FakeIpvsKernel implements GenlSocket {
  readonly familyId: number;
  /** One line per request, as ipvsadm would describe it, with "!ERRNO" when refused. */
  readonly log: string[] = [];
  private readonly held = new Map<string, HeldService>();
  private failures: Failure[] = [];
  private mutations = 0;
  closed = false;

  constructor(private readonly options: FakeIpvsKernelOptions = {}) {
    this.familyId = options.familyId ?? DEFAULT_FAMILY_ID;
  }

  /** The `nth` mutating command from now (1 = the next) is refused with `errno`. */
  failNth(nth: number, errno: number): void {
    const at = this.mutations + nth;
    this.failures.push({ match: (_s, i) => i === at, errno, times: 1 });
  }

  /** Mutating commands whose log line contains `text` are refused with `errno`. */
  failWhen(text: string, errno: number, times = 1): void {
    this.failures.push({ match: (s) => s.includes(text), errno, times });
  }

  /** What the table holds now, in the kernel's order, copied. */
  table(): IpvsEntry[] {
    return [...this.held.values()].map((h) => ({
      service: structuredClone(h.service),
      dests: [...h.dests.values()].map((d) => structuredClone(d)),
    }));
  }

  /** Adds a service as another manager (kube-proxy, ipvsadm) would, without logging. */
  addForeign(entry: IpvsEntry): void {
    this.held.set(serviceIdKey(entry.service), {
      service: structuredClone(entry.service),
      rawFlags: entry.service.flags | IP_VS_SVC_F.HASHED,
      dests: new Map(entry.dests.map((d) => [destIdKey(d), structuredClone(d)])),
    });
  }

  /** Deletes a service as `ipvsadm -D` would, without logging; false if there was none. */
  removeService(id: IpvsServiceId): boolean {
    return this.held.delete(serviceIdKey(id));
  }

  async exchange(request: Uint8Array): Promise<Uint8Array[]> {
    if (this.closed) throw new Error('the netlink socket is closed');
    const [m] = splitMessages(request);
    if (m === undefined) throw new MalformedNetlink('empty request');
    try {
      if (m.type === GENL_ID_CTRL) return this.ctrl(m);
      if (m.type === this.familyId && this.options.ipvs !== false) return this.ipvs(m);
      return [this.error(m, E.ENOENT)];
    } catch (e) {
      if (e instanceof Refused) return [this.error(m, e.errno)];
      if (e instanceof MalformedNetlink) return [this.error(m, E.EINVAL)];
      throw e;
    }
  }

  close(): void {
    this.closed = true;
  }

  // ---- replies ------------------------------------------------------------------------

  private ack(m: NlMessage): Uint8Array {
    const errno = new Uint8Array(4);
    return nlmsg({ type: NLMSG.ERROR, flags: NLM_F.CAPPED, seq: m.seq, pid: m.pid }, [
      errno,
      m.raw.subarray(0, 16),
    ]);
  }

  private error(m: NlMessage, errno: number): Uint8Array {
    const e = new Uint8Array(4);
    new DataView(e.buffer).setInt32(0, -errno, HOST_LE);
    return nlmsg({ type: NLMSG.ERROR, flags: 0, seq: m.seq, pid: m.pid }, [e, m.raw]);
  }

  private done(m: NlMessage): Uint8Array {
    return nlmsg({ type: NLMSG.DONE, flags: NLM_F.MULTI, seq: m.seq, pid: m.pid }, [new Uint8Array(4)]);
  }

  private reply(m: NlMessage, cmd: number, attrs: Uint8Array[], multi: boolean): Uint8Array {
    return nlmsg({ type: this.familyId, flags: multi ? NLM_F.MULTI : 0, seq: m.seq, pid: m.pid }, [
      genlHeader(cmd, IPVS_GENL_VERSION),
      ...attrs,
    ]);
  }

  // ---- nlctrl -------------------------------------------------------------------------

  private ctrl(m: NlMessage): Uint8Array[] {
    const { cmd, attrs } = commandAttrs(m);
    const name = attrs.has(CTRL_ATTR.FAMILY_NAME)
      ? read.string(attrs.get(CTRL_ATTR.FAMILY_NAME), 'name')
      : '';
    this.log.push(`GETFAMILY ${name}`);
    if (cmd !== CTRL_CMD.GETFAMILY) throw new Refused(E.EOPNOTSUPP);
    if (name !== IPVS_GENL_NAME || this.options.ipvs === false) throw new Refused(E.ENOENT);
    const reply = nlmsg({ type: GENL_ID_CTRL, flags: 0, seq: m.seq, pid: m.pid }, [
      genlHeader(CTRL_CMD.NEWFAMILY, 2),
      nla.string(CTRL_ATTR.FAMILY_NAME, IPVS_GENL_NAME),
      nla.u16(CTRL_ATTR.FAMILY_ID, this.familyId),
      nla.u32(CTRL_ATTR.VERSION, IPVS_GENL_VERSION),
      nla.u32(CTRL_ATTR.HDRSIZE, 0),
      nla.u32(CTRL_ATTR.MAXATTR, IPVS_CMD_ATTR.TIMEOUT_UDP),
    ]);
    return [reply, this.ack(m)];
  }

  // ---- IPVS ---------------------------------------------------------------------------

  private ipvs(m: NlMessage): Uint8Array[] {
    const { cmd, attrs } = commandAttrs(m);
    const summary = this.summarize(cmd, attrs);
    if (this.options.permitted === false) {
      this.log.push(`${summary} !EPERM`);
      throw new Refused(E.EPERM);
    }
    const dump = (m.flags & NLM_F.DUMP) === NLM_F.DUMP;
    if (MUTATING.has(cmd)) {
      this.mutations++;
      const f = this.failures.find((x) => x.times > 0 && x.match(summary, this.mutations));
      if (f !== undefined) {
        f.times--;
        this.log.push(`${summary} !${errnoName(f.errno)}`);
        throw new Refused(f.errno);
      }
    }
    try {
      const out = this.run(m, cmd, attrs, dump);
      this.log.push(summary);
      return out;
    } catch (e) {
      if (e instanceof Refused) this.log.push(`${summary} !${errnoName(e.errno)}`);
      throw e;
    }
  }

  private summarize(cmd: number, attrs: Map<number, Uint8Array>): string {
    const name = CMD_NAMES.get(cmd) ?? `cmd ${cmd}`;
    const parts = [name];
    try {
      const svcData = attrs.get(IPVS_CMD_ATTR.SERVICE);
      if (svcData !== undefined) {
        const { id, service } = decodeServiceAttrs(svcData);
        parts.push(describeService(id));
        if (service !== undefined && (cmd === IPVS_CMD.NEW_SERVICE || cmd === IPVS_CMD.SET_SERVICE)) {
          parts.push(service.scheduler);
          if (service.flags & IP_VS_SVC_F.PERSISTENT) parts.push(`persistent ${service.timeout}s`);
          const other = service.flags & ~IP_VS_SVC_F.PERSISTENT;
          if (other !== 0) parts.push(`flags 0x${other.toString(16)}`);
        }
        const destData = attrs.get(IPVS_CMD_ATTR.DEST);
        if (destData !== undefined) {
          const { id: did, dest } = decodeDestAttrs(destData, id.af);
          parts.push(describeDest(did));
          if (dest !== undefined)
            parts.push(FWD_NAMES.get(dest.fwdMethod) ?? `fwd ${dest.fwdMethod}`, `w${dest.weight}`);
        }
      }
    } catch {
      parts.push('(malformed)');
    }
    return parts.join(' ');
  }

  private serviceOf(attrs: Map<number, Uint8Array>, full: boolean) {
    const data = attrs.get(IPVS_CMD_ATTR.SERVICE);
    if (data === undefined) throw new Refused(E.EINVAL);
    const parsed = decodeServiceAttrs(data);
    if (full && parsed.service === undefined) throw new Refused(E.EINVAL);
    return { ...parsed, flags: decodeServiceFlags(data), held: this.held.get(serviceIdKey(parsed.id)) };
  }

  private destOf(attrs: Map<number, Uint8Array>, svc: IpvsServiceId, full: boolean) {
    const data = attrs.get(IPVS_CMD_ATTR.DEST);
    if (data === undefined) throw new Refused(E.EINVAL);
    const parsed = decodeDestAttrs(data, svc.af);
    if (full && parsed.dest === undefined) throw new Refused(E.EINVAL);
    return parsed;
  }

  private checkService(s: IpvsService): void {
    if (s.fwmark === 0 && !IPVS_PROTOCOLS.has(s.protocol)) throw new Refused(E.EPROTONOSUPPORT);
    if (!(this.options.schedulers ?? IPVS_SCHEDULERS).includes(s.scheduler)) throw new Refused(E.ENOENT);
    if (s.af !== AF_INET && (s.netmask < 1 || s.netmask > 128)) throw new Refused(E.EINVAL);
  }

  private checkDest(svc: IpvsService, d: IpvsDest): void {
    if (d.af !== svc.af && d.fwdMethod !== IP_VS_CONN_F.TUNNEL) throw new Refused(E.EINVAL);
    if (d.weight < 0 || d.lThreshold > d.uThreshold) throw new Refused(E.ERANGE);
  }

  private run(m: NlMessage, cmd: number, attrs: Map<number, Uint8Array>, dump: boolean): Uint8Array[] {
    switch (cmd) {
      case IPVS_CMD.NEW_SERVICE: {
        const { service, flags, held } = this.serviceOf(attrs, true);
        if (service === undefined || flags === undefined) throw new Refused(E.EINVAL);
        if (held !== undefined) throw new Refused(E.EEXIST);
        this.checkService(service);
        const rawFlags = (flags.flags & flags.mask) | IP_VS_SVC_F.HASHED;
        this.held.set(serviceIdKey(service), {
          service: { ...service, flags: rawFlags & ~IP_VS_SVC_F.HASHED },
          rawFlags,
          dests: new Map(),
        });
        return [this.ack(m)];
      }
      case IPVS_CMD.SET_SERVICE: {
        const { service, flags, held } = this.serviceOf(attrs, true);
        if (service === undefined || flags === undefined) throw new Refused(E.EINVAL);
        if (held === undefined) throw new Refused(E.ESRCH);
        this.checkService(service);
        held.rawFlags = (held.rawFlags & ~flags.mask) | (flags.flags & flags.mask) | IP_VS_SVC_F.HASHED;
        held.service = { ...service, flags: held.rawFlags & ~IP_VS_SVC_F.HASHED };
        return [this.ack(m)];
      }
      case IPVS_CMD.DEL_SERVICE: {
        const { id, held } = this.serviceOf(attrs, false);
        if (held === undefined) throw new Refused(E.ESRCH);
        this.held.delete(serviceIdKey(id));
        return [this.ack(m)];
      }
      case IPVS_CMD.NEW_DEST:
      case IPVS_CMD.SET_DEST:
      case IPVS_CMD.DEL_DEST: {
        const { id, held } = this.serviceOf(attrs, false);
        if (held === undefined) throw new Refused(E.ESRCH);
        const { id: did, dest } = this.destOf(attrs, id, cmd !== IPVS_CMD.DEL_DEST);
        const k = destIdKey(did);
        const present = held.dests.has(k);
        if (cmd === IPVS_CMD.DEL_DEST) {
          if (!present) throw new Refused(E.ENOENT);
          held.dests.delete(k);
          return [this.ack(m)];
        }
        if (dest === undefined) throw new Refused(E.EINVAL);
        this.checkDest(held.service, dest);
        if (cmd === IPVS_CMD.NEW_DEST && present) throw new Refused(E.EEXIST);
        if (cmd === IPVS_CMD.SET_DEST && !present) throw new Refused(E.ENOENT);
        held.dests.set(k, dest);
        return [this.ack(m)];
      }
      case IPVS_CMD.FLUSH:
        this.held.clear();
        return [this.ack(m)];
      case IPVS_CMD.GET_SERVICE: {
        if (!dump) throw new Refused(E.EOPNOTSUPP);
        const out = [...this.held.values()].map((h) =>
          this.reply(m, IPVS_CMD.NEW_SERVICE, [this.fillService(h)], true),
        );
        return [...out, this.done(m)];
      }
      case IPVS_CMD.GET_DEST: {
        if (!dump) throw new Refused(E.EOPNOTSUPP);
        const data = attrs.get(IPVS_CMD_ATTR.SERVICE);
        const held =
          data === undefined ? undefined : this.held.get(serviceIdKey(decodeServiceAttrs(data).id));
        const out = [...(held?.dests.values() ?? [])].map((d) =>
          this.reply(m, IPVS_CMD.NEW_DEST, [this.fillDest(d)], true),
        );
        return [...out, this.done(m)];
      }
      case IPVS_CMD.GET_INFO:
        return [
          this.reply(
            m,
            IPVS_CMD.SET_INFO,
            [nla.u32(IPVS_INFO_ATTR.VERSION, 0x010201), nla.u32(IPVS_INFO_ATTR.CONN_TAB_SIZE, 4096)],
            false,
          ),
          this.ack(m),
        ];
      default:
        throw new Refused(E.EOPNOTSUPP);
    }
  }

  /** As ip_vs_genl_fill_service writes it. */
  private fillService(h: HeldService): Uint8Array {
    const s = h.service;
    const attrs = [nla.u16(IPVS_SVC_ATTR.AF, s.af)];
    if (s.fwmark !== 0) attrs.push(nla.u32(IPVS_SVC_ATTR.FWMARK, s.fwmark));
    else
      attrs.push(
        nla.u16(IPVS_SVC_ATTR.PROTOCOL, s.protocol),
        nla.bytes(IPVS_SVC_ATTR.ADDR, inetAddrBytes(s.af, s.addr)),
        nla.be16(IPVS_SVC_ATTR.PORT, s.port),
      );
    attrs.push(nla.string(IPVS_SVC_ATTR.SCHED_NAME, s.scheduler));
    if (s.peName !== undefined) attrs.push(nla.string(IPVS_SVC_ATTR.PE_NAME, s.peName));
    const flags = new Uint8Array(8);
    const v = new DataView(flags.buffer);
    v.setUint32(0, h.rawFlags, HOST_LE);
    v.setUint32(4, 0xffffffff, HOST_LE);
    attrs.push(
      nla.bytes(IPVS_SVC_ATTR.FLAGS, flags),
      nla.u32(IPVS_SVC_ATTR.TIMEOUT, s.timeout),
      s.af === AF_INET
        ? nla.be32(IPVS_SVC_ATTR.NETMASK, s.netmask)
        : nla.u32(IPVS_SVC_ATTR.NETMASK, s.netmask),
      stats(IPVS_SVC_ATTR.STATS, false),
      stats(IPVS_SVC_ATTR.STATS64, true),
    );
    return noFlagNest(IPVS_CMD_ATTR.SERVICE, attrs);
  }

  /** As ip_vs_genl_fill_dest writes it. */
  private fillDest(d: IpvsDest): Uint8Array {
    return noFlagNest(IPVS_CMD_ATTR.DEST, [
      nla.bytes(IPVS_DEST_ATTR.ADDR, inetAddrBytes(d.af, d.addr)),
      nla.be16(IPVS_DEST_ATTR.PORT, d.port),
      nla.u32(IPVS_DEST_ATTR.FWD_METHOD, d.fwdMethod & IP_VS_CONN_F.FWD_MASK),
      nla.u32(IPVS_DEST_ATTR.WEIGHT, d.weight),
      nla.u8(IPVS_DEST_ATTR.TUN_TYPE, 0),
      nla.be16(IPVS_DEST_ATTR.TUN_PORT, 0),
      nla.u16(IPVS_DEST_ATTR.TUN_FLAGS, 0),
      nla.u32(IPVS_DEST_ATTR.U_THRESH, d.uThreshold),
      nla.u32(IPVS_DEST_ATTR.L_THRESH, d.lThreshold),
      nla.u32(IPVS_DEST_ATTR.ACTIVE_CONNS, 0),
      nla.u32(IPVS_DEST_ATTR.INACT_CONNS, 0),
      nla.u32(IPVS_DEST_ATTR.PERSIST_CONNS, 0),
      nla.u16(IPVS_DEST_ATTR.ADDR_FAMILY, d.af),
      stats(IPVS_DEST_ATTR.STATS, false),
      stats(IPVS_DEST_ATTR.STATS64, true),
    ]);
  }
}
