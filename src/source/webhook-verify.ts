import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Recognises and authenticates a Git host's push webhook from its headers and raw body.
// Pure apart from hashing: no clock, no I/O. The caller hands in headers with lower-cased
// names (as Fetch's Headers gives them) and the body exactly as received, because the
// signature covers those bytes, not a re-serialised JSON.
//
// Errors are values naming the header or field and what to do. They never echo the secret
// or the signature a caller sent: a response body is readable by whoever sent the request.

export type WebhookProvider = 'github' | 'gitlab' | 'gitea';

export interface WebhookPush {
  ok: true;
  provider: WebhookProvider;
  event: 'push';
  /** "refs/heads/main", "refs/tags/v1". */
  ref: string;
  /** The commit the ref points at after the push; all zeros when the push deleted the ref. */
  after: string;
  /** Clone URLs named in the payload, for logging which repository called. */
  repositoryUrls: string[];
}

export interface WebhookPing {
  ok: true;
  provider: WebhookProvider;
  /** GitHub's "the hook is configured" delivery: authenticated, nothing to fetch. */
  event: 'ping';
}

export interface WebhookRefused {
  ok: false;
  status: 400 | 401 | 403 | 415 | 422;
  error: string;
}

export type WebhookResult = WebhookPush | WebhookPing | WebhookRefused;

export type WebhookHeaders = Readonly<Record<string, string | undefined>>;

const refuse = (status: WebhookRefused['status'], error: string): WebhookRefused => ({
  ok: false,
  status,
  error,
});

// A key that exists only in this process: both sides of every comparison are HMAC'd with
// it first, so timingSafeEqual always sees two 32-byte buffers whatever was sent, and
// neither the secret's length nor how much of a guess matched shows in the timing.
const COMPARE_KEY = randomBytes(32);
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  timingSafeEqual(
    createHmac('sha256', COMPARE_KEY).update(a).digest(),
    createHmac('sha256', COMPARE_KEY).update(b).digest(),
  );

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

interface Provider {
  provider: WebhookProvider;
  /** Header holding the event name, as a person reads it in the host's delivery log. */
  eventHeader: string;
  event: string;
  authenticate(headers: WebhookHeaders, body: Uint8Array, secret: string): WebhookRefused | undefined;
  /** Maps the host's event name to what keepgit does with it. */
  kind(event: string): 'push' | 'ping' | undefined;
}

function hmacHex(headerName: string, displayName: string, prefix: string): Provider['authenticate'] {
  return (headers, body, secret) => {
    const sent = headers[headerName];
    if (sent === undefined || sent === '') {
      return refuse(401, `missing ${displayName} header: set the same secret on the webhook as on keepgit`);
    }
    const hex = sent.startsWith(prefix) ? sent.slice(prefix.length) : undefined;
    if (hex === undefined || !HEX_SHA256.test(hex)) {
      return refuse(
        401,
        `malformed ${displayName} header: expected ${prefix ? `${prefix} followed by ` : ''}64 hex digits (HMAC-SHA256 of the body)`,
      );
    }
    const expected = createHmac('sha256', secret).update(body).digest();
    if (!sameBytes(Buffer.from(hex, 'hex'), expected)) {
      return refuse(403, 'signature does not match: check the webhook secret');
    }
    return undefined;
  };
}

const gitlabToken: Provider['authenticate'] = (headers, _body, secret) => {
  const sent = headers['x-gitlab-token'];
  if (sent === undefined || sent === '') {
    return refuse(401, 'missing X-Gitlab-Token header: set the secret token on the webhook');
  }
  // Compare digests, not the strings: a length mismatch must not return early.
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  if (!sameBytes(digest(sent), digest(secret))) {
    return refuse(403, 'secret token does not match: check the webhook secret');
  }
  return undefined;
};

/** Which host sent the request. Gitea and Forgejo also send GitHub's headers, so they are asked first. */
function recognise(headers: WebhookHeaders): Provider | undefined {
  const forgejo = headers['x-forgejo-event'];
  const gitea = headers['x-gitea-event'];
  if (forgejo !== undefined || gitea !== undefined) {
    // Forgejo sends the same tag under both names; prefer its own, so a bad X-Forgejo-Signature
    // is not rescued by a good X-Gitea-Signature.
    const own = headers['x-forgejo-signature'] !== undefined;
    return {
      provider: 'gitea',
      eventHeader: forgejo !== undefined ? 'X-Forgejo-Event' : 'X-Gitea-Event',
      event: forgejo ?? gitea ?? '',
      authenticate: own
        ? hmacHex('x-forgejo-signature', 'X-Forgejo-Signature', '')
        : hmacHex('x-gitea-signature', 'X-Gitea-Signature', ''),
      kind: (e) => (e === 'push' ? 'push' : undefined),
    };
  }
  const gitlab = headers['x-gitlab-event'];
  if (gitlab !== undefined) {
    return {
      provider: 'gitlab',
      eventHeader: 'X-Gitlab-Event',
      event: gitlab,
      authenticate: gitlabToken,
      kind: (e) => (e === 'Push Hook' || e === 'Tag Push Hook' ? 'push' : undefined),
    };
  }
  const github = headers['x-github-event'];
  if (github !== undefined) {
    return {
      provider: 'github',
      eventHeader: 'X-GitHub-Event',
      event: github,
      authenticate: hmacHex('x-hub-signature-256', 'X-Hub-Signature-256', 'sha256='),
      kind: (e) => (e === 'push' ? 'push' : e === 'ping' ? 'ping' : undefined),
    };
  }
  return undefined;
}

const isJson = (contentType: string | undefined): boolean => {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Clone URLs the hosts put in a push payload: repository.* (GitHub, Gitea, GitLab) and project.* (GitLab). */
function repositoryUrls(payload: Record<string, unknown>): string[] {
  const urls = new Set<string>();
  for (const holder of [payload.repository, payload.project]) {
    if (!isRecord(holder)) continue;
    for (const key of ['clone_url', 'git_http_url', 'ssh_url', 'git_ssh_url']) {
      const v = holder[key];
      if (typeof v === 'string' && v !== '') urls.add(v);
    }
  }
  return [...urls];
}

/**
 * Authenticates a webhook delivery and extracts the pushed ref. Order matters: nothing is
 * parsed, and no event name is judged, before the caller has proved it knows the secret.
 */
export function verifyWebhook(headers: WebhookHeaders, body: Uint8Array, secret: string): WebhookResult {
  if (secret === '') {
    return refuse(403, 'webhook secret is empty: configure a non-empty secret before accepting webhooks');
  }
  const host = recognise(headers);
  if (!host) {
    return refuse(
      400,
      'not a recognised Git webhook: expected an X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event or X-Forgejo-Event header',
    );
  }
  const denied = host.authenticate(headers, body, secret);
  if (denied) return denied;

  if (!isJson(headers['content-type'])) {
    const got = headers['content-type'] ? `content type ${headers['content-type']}` : 'no content type';
    return refuse(415, `${got}: set the webhook's content type to application/json`);
  }
  const kind = host.kind(host.event);
  if (kind === undefined) {
    const wanted = host.provider === 'gitlab' ? 'Push Hook and Tag Push Hook' : 'push';
    const shown = host.event.length > 64 ? `${host.event.slice(0, 64)}...` : host.event;
    return refuse(
      422,
      `unsupported event '${shown}' (${host.eventHeader}): only ${wanted} events trigger a fetch; untick the others on the webhook`,
    );
  }
  if (kind === 'ping') return { ok: true, provider: host.provider, event: 'ping' };

  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return refuse(400, 'malformed JSON in the request body');
  }
  if (!isRecord(payload)) return refuse(422, 'push payload is not a JSON object');
  const { ref, after } = payload;
  if (typeof ref !== 'string' || !ref.startsWith('refs/')) {
    return refuse(422, 'push payload has no "ref" field naming a ref (refs/heads/... or refs/tags/...)');
  }
  if (typeof after !== 'string' || !OBJECT_ID.test(after)) {
    return refuse(422, 'push payload has no "after" field holding a commit ID (40 or 64 hex digits)');
  }
  return {
    ok: true,
    provider: host.provider,
    event: 'push',
    ref,
    after,
    repositoryUrls: repositoryUrls(payload),
  };
}
