import { performance } from 'node:perf_hooks';
import type { CheckOutcome, ProbeFn } from './check-types.ts';
import { describeError, openConnection } from './connect.ts';

// SMTP_CHECK: the conversation keepalived holds — read the 220 greeting, say HELO, expect 250,
// say QUIT. Unlike keepalived we accept a multi-line reply ("220-..." lines then "220 ..."),
// which RFC 5321 allows and which keepalived would take for a bad banner. The whole exchange
// must finish within connect_timeout.

export interface SmtpSpec {
  heloName?: string;
}

/** keepalived's default HELO name. */
export const DEFAULT_HELO_NAME = 'smtpchecker.keepalived.org';

const MAX_REPLY_BYTES = 16 * 1024;

export const probeSmtp: ProbeFn<SmtpSpec> = async (spec, target, ctx) => {
  const started = ctx.now();
  const deadline = performance.now() + ctx.timeoutMs;
  const c = await openConnection(target, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  if (!c.ok) return { ok: false, latencyMs: ctx.now() - started, reason: c.reason };
  const socket = c.socket;
  const helo = spec.heloName ?? DEFAULT_HELO_NAME;
  return new Promise<CheckOutcome>((resolve) => {
    let step: 'greeting' | 'helo' | 'quit' = 'greeting';
    let buffer = '';
    let settled = false;
    const finish = (reason?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      const latencyMs = ctx.now() - started;
      resolve(reason === undefined ? { ok: true, latencyMs } : { ok: false, latencyMs, reason });
    };
    const onAbort = () => finish('aborted');
    const timer = setTimeout(
      () => finish(`timeout after ${ctx.timeoutMs} ms waiting for the ${step} reply`),
      Math.max(0, deadline - performance.now()),
    );
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();

    const onReply = (code: number, line: string) => {
      if (step === 'greeting') {
        if (code !== 220) return finish(`bad greeting: ${line}`);
        step = 'helo';
        socket.write(`HELO ${helo}\r\n`);
      } else if (step === 'helo') {
        if (code !== 250) return finish(`bad HELO reply: ${line}`);
        step = 'quit';
        socket.write('QUIT\r\n');
      } else finish();
    };

    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      buffer += text;
      if (buffer.length > MAX_REPLY_BYTES) return finish(`reply longer than ${MAX_REPLY_BYTES} bytes`);
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl < 0 || settled) return;
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (/^\d{3}-/.test(line)) continue;
        const m = /^(\d{3})(?: |$)/.exec(line);
        if (!m) return finish(`unreadable ${step} reply: ${line.slice(0, 80)}`);
        onReply(Number(m[1]), line.slice(0, 200));
      }
    });
    socket.on('error', (e) => finish(step === 'quit' ? undefined : `read ${describeError(e)}`));
    // A server that hangs up after our QUIT without a 221 has still shown it is alive.
    socket.on('close', () =>
      finish(step === 'quit' ? undefined : `connection closed before the ${step} reply`),
    );
  });
};
