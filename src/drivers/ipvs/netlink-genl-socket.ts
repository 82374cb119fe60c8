import { RawNetlinkSocket } from 'netlink';
import type { GenlSocket } from './genl-socket.ts';
import { NETLINK_GENERIC } from './ip-vs-constants.ts';
import { endsExchange, HOST_LE, splitMessages } from './netlink-codec.ts';

// A NETLINK_GENERIC socket from the `netlink` package, used at its lowest layer (raw
// datagrams in and out): the package's own generic netlink layer parses attributes its
// own way, and the IPVS codec wants to see the bytes. One request at a time: the kernel
// runs one dump per socket, and the replies are matched by sequence number.

const DEFAULT_TIMEOUT_MS = 5000;
const RECEIVE_BUFFER_BYTES = 1 << 20;

interface Pending {
  seq: number;
  replies: Uint8Array[];
  resolve(replies: Uint8Array[]): void;
  reject(e: Error): void;
}

class NetlinkGenlSocket implements GenlSocket {
  private readonly socket: RawNetlinkSocket;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly timeoutMs: number) {
    this.socket = new RawNetlinkSocket(NETLINK_GENERIC);
    // A driver's socket must not keep a finished CLI run or a test alive; it is referenced
    // only while a request waits for its answer.
    this.socket.unref();
    try {
      this.socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
    } catch {
      // The default buffer still works; large dumps just arrive in more datagrams.
    }
    this.socket.on('message', (buf) => this.receive(buf));
    this.socket.on('truncatedMessage', () =>
      this.fail(new Error('a netlink reply did not fit the receive buffer')),
    );
    this.socket.on('error', (e) => this.fail(new Error(`netlink socket: ${e.message}`)));
  }

  private receive(buf: Buffer): void {
    const p = this.pending;
    if (p === undefined) return;
    let messages: ReturnType<typeof splitMessages>;
    try {
      messages = splitMessages(buf);
    } catch (e) {
      this.fail(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    for (const m of messages) {
      if (m.seq !== p.seq) continue;
      p.replies.push(Uint8Array.from(m.raw));
      if (endsExchange(m)) {
        this.pending = undefined;
        p.resolve(p.replies);
        return;
      }
    }
  }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  exchange(request: Uint8Array): Promise<Uint8Array[]> {
    const run = this.queue.then(() => this.exchangeNow(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private exchangeNow(request: Uint8Array): Promise<Uint8Array[]> {
    if (this.closed) return Promise.reject(new Error('the netlink socket is closed'));
    const seq = new DataView(request.buffer, request.byteOffset, request.byteLength).getUint32(8, HOST_LE);
    return new Promise<Uint8Array[]>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new Error(`the kernel did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        if (!this.closed) this.socket.unref();
      };
      this.pending = {
        seq,
        replies: [],
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      this.socket.ref();
      this.socket.send(request, {}, (error) => {
        if (error !== undefined) this.fail(new Error(`cannot send to the kernel: ${error.message}`));
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the netlink socket was closed'));
    this.socket.close();
  }
}

/** Opens a generic netlink socket in this process's network namespace (throws if it cannot). */
export function openGenlSocket(options: { timeoutMs?: number } = {}): GenlSocket {
  return new NetlinkGenlSocket(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
