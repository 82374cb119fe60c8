// raw-socket 1.8.1 ships no types. This declares only what the VRRP transport uses, as
// its README and index.js define it.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  namespace rawSocket {
    interface SocketOptions {
      /** AddressFamily.IPv4 (1) or AddressFamily.IPv6 (2). */
      addressFamily?: number;
      /** The IP protocol number the socket is opened for. */
      protocol?: number;
      /** Receive buffer; a datagram longer than this is cut short. */
      bufferSize?: number;
    }

    interface Socket extends EventEmitter {
      /** The `address` is the sender's, as recvfrom(2) reports it (no IPv6 zone). */
      on(event: 'message', listener: (buffer: Buffer, address: string) => void): this;
      on(event: 'error', listener: (error: Error) => void): this;
      on(event: 'close', listener: () => void): this;
      send(
        buffer: Buffer,
        offset: number,
        length: number,
        address: string,
        afterCallback: (error: Error | null, bytes: number) => void,
      ): this;
      /** setsockopt(2) with a 32-bit integer value. Throws on failure. */
      setOption(level: number, option: number, value: number): void;
      /** setsockopt(2) with `length` bytes of `value`. Throws on failure. */
      setOption(level: number, option: number, value: Buffer, length: number): void;
      getOption(level: number, option: number, value: Buffer, length: number): number;
      close(): this;
      pauseRecv(): this;
      resumeRecv(): this;
      /**
       * The addon's socket behind this one (index.js: `this.wrap`), not documented by the
       * package: the VRRP socket sends and receives through it directly (see shared-socket.ts).
       * Optional here so that code checks it is there before relying on it.
       */
      wrap?: SocketWrap;
    }

    /** raw.cc's SocketWrap, an EventEmitter emitting 'recvReady' and 'sendReady'. */
    interface SocketWrap extends EventEmitter {
      /** sendto(2) at once, non-blocking; calls `after(bytes)` before returning; throws on error (EAGAIN too). */
      send(
        buffer: Buffer,
        offset: number,
        length: number,
        address: string,
        after: (bytes: number) => void,
      ): void;
      /** recvfrom(2) at once, non-blocking; calls `after` before returning; throws on error (EAGAIN too). */
      recv(buffer: Buffer, after: (buffer: Buffer, bytes: number, source: string) => void): void;
    }

    const AddressFamily: { IPv4: number; IPv6: number };
    const SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number; IPPROTO_IPV6: number };
    const SocketOption: {
      SO_BINDTODEVICE: number;
      IP_HDRINCL: number;
      IP_TTL: number;
      IPV6_UNICAST_HOPS: number;
    };
    function createSocket(options?: SocketOptions): Socket;
  }

  export = rawSocket;
}
