import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { verifyWebhook, type WebhookProvider } from '../source/webhook-verify.ts';

// POST /hooks/git: a Git host tells the agent that a ref moved, so it fetches now instead
// of at the next poll. The webhook only ever triggers a fetch of the configured repository:
// nothing in the payload is trusted beyond "look again", so a replayed or forged-but-valid
// delivery can at worst cause an early fetch.

export const HOOK_PATH = '/hooks/git';

/** Push payloads are small (hosts list at most 20 commits); a larger body is refused unread. */
export const HOOK_MAX_BYTES = 1024 * 1024;

export const WEBHOOK_DISABLED =
  'webhook disabled: set webhook.secretFile in the agent configuration or the KEEPGIT_WEBHOOK_SECRET environment variable';

export interface HookPush {
  provider: WebhookProvider;
  ref: string;
  after: string;
  repositoryUrls: string[];
}

export interface HookRoutesOptions {
  /** The shared webhook secret; undefined or blank switches the route off (404). */
  secret: string | undefined;
  /** Starts a fetch when `ref` is the ref the agent follows; answers whether it did. */
  onPush(push: HookPush): boolean | Promise<boolean>;
  /** Body limit in bytes; tests lower it. */
  maxBytes?: number;
}

export function hookRoutes(options: HookRoutesOptions): Hono {
  const app = new Hono();
  const secret = options.secret;
  const maxBytes = options.maxBytes ?? HOOK_MAX_BYTES;

  if (secret === undefined || secret.trim() === '') {
    // Without a secret anyone who reaches the API could make every node fetch: refuse,
    // and say how to switch it on.
    app.post(HOOK_PATH, (c) => c.json({ error: WEBHOOK_DISABLED }, 404));
    return app;
  }

  app.post(
    HOOK_PATH,
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) =>
        c.json({ error: `request body is larger than ${describeBytes(maxBytes)}: not a push payload` }, 413),
    }),
    async (c) => {
      const body = new Uint8Array(await c.req.arrayBuffer());
      const verdict = verifyWebhook(c.req.header(), body, secret);
      if (!verdict.ok) return c.json({ error: verdict.error }, verdict.status);
      if (verdict.event === 'ping') {
        return c.json({ accepted: true, fetching: false, event: 'ping' }, 200);
      }
      const push: HookPush = {
        provider: verdict.provider,
        ref: verdict.ref,
        after: verdict.after,
        repositoryUrls: verdict.repositoryUrls,
      };
      let fetching: boolean;
      try {
        fetching = await options.onPush(push);
      } catch {
        // The delivery was genuine; the failure is ours. Keep internals out of the reply.
        return c.json({ error: 'the push was accepted but starting a fetch failed: see the agent log' }, 500);
      }
      return c.json({ accepted: true, fetching, ref: push.ref, after: push.after }, 202);
    },
  );
  return app;
}

function describeBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
