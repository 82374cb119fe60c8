import { createHmac } from 'node:crypto';
import { createInterface } from 'node:readline';
import { startGitHttpServer } from './git-http-server.ts';

// git-http-server.ts as a process of its own, so that it can run inside a lab host's
// namespace and serve agents there (a test process cannot listen in another namespace).
// Run as `node --import tsx git-http-serve.ts HOST [SIGNING_KEY]`; prints READY <json
// {url, bare}>, then takes one JSON command per line on stdin — {"push": {files, message,
// sign?}} answers PUSHED <commit>, {"forcePush": commit} answers FORCED, {"hooks": {urls,
// secret}} answers HOOKS <n> — and ends on stdin's end.
//
// Once hooks are registered the server behaves as a Git host does: after each push it
// POSTs GitHub's push payload, signed with the secret (X-Hub-Signature-256), to every URL
// at once, and after PUSHED prints HOOKED <json {commit, pushedAt, sentAt, hooks: [{url,
// status | error, ms}]}> (epoch ms: pushedAt when `git push` returned, sentAt when the
// POSTs left), so that a benchmark can time a change from the end of the push. With no
// URLs it only prints HOOKED, which times a push that agents find by polling.

interface Hooks {
  urls: string[];
  secret: string;
}

const [host = '127.0.0.1', signingKey] = process.argv.slice(2);
const server = await startGitHttpServer({ host, ...(signingKey ? { signingKey } : {}) });
let hooks: Hooks | undefined;

/** One delivery as GitHub makes it; a failure is reported, never thrown. */
async function deliver(url: string, secret: string, body: string) {
  const t0 = Date.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { url, status: res.status, ms: Date.now() - t0 };
  } catch (e) {
    return { url, error: e instanceof Error ? e.message : String(e), ms: Date.now() - t0 };
  }
}

process.stdout.write(`READY ${JSON.stringify({ url: server.url, bare: server.bare })}\n`);
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  try {
    const cmd = JSON.parse(line) as {
      push?: { files: Record<string, string | null>; message: string; sign?: boolean };
      forcePush?: string;
      hooks?: Hooks;
    };
    if (cmd.push) {
      const commit = server.push(cmd.push.files, cmd.push.message, undefined, cmd.push.sign ?? true);
      const pushedAt = Date.now();
      process.stdout.write(`PUSHED ${commit}\n`);
      const h = hooks;
      if (h) {
        const body = JSON.stringify({
          ref: 'refs/heads/main',
          before: '0'.repeat(40),
          after: commit,
          repository: { clone_url: server.url },
        });
        const sentAt = Date.now();
        void Promise.all(h.urls.map((u) => deliver(u, h.secret, body))).then((results) =>
          process.stdout.write(`HOOKED ${JSON.stringify({ commit, pushedAt, sentAt, hooks: results })}\n`),
        );
      }
    }
    if (cmd.forcePush) {
      server.forcePush(cmd.forcePush);
      process.stdout.write('FORCED\n');
    }
    if (cmd.hooks) {
      hooks = { urls: [...cmd.hooks.urls], secret: cmd.hooks.secret };
      process.stdout.write(`HOOKS ${hooks.urls.length}\n`);
    }
  } catch (e) {
    process.stdout.write(`ERROR ${JSON.stringify(String(e))}\n`);
  }
});
rl.on('close', () => void server.close().then(() => process.exit(0)));
