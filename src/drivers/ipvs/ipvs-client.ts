import { randomInt } from 'node:crypto';
import {
  decodeAck,
  decodeDestDump,
  decodeInfo,
  decodeServiceDump,
  type IpvsInfo,
  type Reply,
} from './decode-ipvs.ts';
import {
  encodeCommand,
  encodeGetDests,
  encodeGetInfo,
  encodeGetServices,
  type IpvsCommand,
} from './encode-ipvs.ts';
import { decodeGetFamily, encodeGetFamily, type GenlFamily } from './genl-family.ts';
import type { GenlSocket } from './genl-socket.ts';
import { IPVS_GENL_NAME } from './ip-vs-constants.ts';
import { commandError } from './ipvs-errors.ts';
import type { IpvsDest, IpvsService, IpvsServiceId } from './ipvs-records.ts';
import { type NlMessage, splitMessages } from './netlink-codec.ts';
import type { ExecResult } from './run-ipvs-journal.ts';

// IPVS requests over a generic netlink socket: encode, exchange, decode. No policy here;
// the dataplane decides what to send.

export class IpvsClient {
  private seq = randomInt(1, 0x7fffffff);

  constructor(private readonly socket: GenlSocket) {}

  private async ask(request: (seq: number) => Uint8Array): Promise<NlMessage[]> {
    this.seq = (this.seq % 0x7fffffff) + 1;
    const replies = await this.socket.exchange(request(this.seq));
    return replies.flatMap((r) => splitMessages(r));
  }

  family(name = IPVS_GENL_NAME): Promise<Reply<GenlFamily>> {
    return this.ask((seq) => encodeGetFamily(seq, name)).then(decodeGetFamily);
  }

  async info(family: number): Promise<Reply<IpvsInfo>> {
    return decodeInfo(await this.ask((seq) => encodeGetInfo(family, seq)), family);
  }

  async services(family: number): Promise<Reply<IpvsService[]>> {
    return decodeServiceDump(await this.ask((seq) => encodeGetServices(family, seq)), family);
  }

  async dests(family: number, service: IpvsServiceId): Promise<Reply<IpvsDest[]>> {
    return decodeDestDump(await this.ask((seq) => encodeGetDests(family, seq, service)), family, service.af);
  }

  async exec(family: number, c: IpvsCommand): Promise<ExecResult> {
    const ack = decodeAck(await this.ask((seq) => encodeCommand(family, seq, c)));
    return ack.errno === 0 ? { ok: true } : { ok: false, message: commandError(c, ack) };
  }

  close(): void {
    this.socket.close();
  }
}
