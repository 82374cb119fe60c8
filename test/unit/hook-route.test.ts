import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HOOK_MAX_BYTES, type HookPush, hookRoutes, WEBHOOK_DISABLED } from '../../src/api/hook-route.ts';

// The route through Hono's own request path (app.request), with the fixture payloads the
// verifier tests use. onPush records what it was asked; the followed ref is refs/heads/main.

const SECRET = 'route-secret-7f3a';
const FOLLOWED = 'refs/heads/main';
const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8');
const sign = (body: string, secret = SECRET) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function setup(secret: string | undefined, maxBytes?: number) {
  const pushes: HookPush[] = [];
  const app = hookRoutes({
    secret,
    onPush: (push) => {
      pushes.push(push);
      return push.ref === FOLLOWED;
    },
    ...(maxBytes === undefined ? {} : { maxBytes }),
  });
  return { app, pushes };
}

function githubPush(
  body: string,
  init: { secret?: string; event?: string; type?: string } = {},
): RequestInit {
  return {
    method: 'POST',
    headers: {
      'Content-Type': init.type ?? 'application/json',
      'X-GitHub-Event': init.event ?? 'push',
      'X-Hub-Signature-256': sign(body, init.secret),
    },
    body,
  };
}

async function answer(
  res: Response,
): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, text };
}

describe('POST /hooks/git', () => {
  it('good GitHub signature on the followed ref: 202, fetching, onPush called once', async () => {
    const { app, pushes } = setup(SECRET);
    const body = fixture('github-push.json');
    const r = await answer(await app.request('/hooks/git', githubPush(body)));
    assert.equal(r.status, 202);
    assert.deepEqual(r.json, {
      accepted: true,
      fetching: true,
      ref: 'refs/heads/main',
      after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
    });
    assert.equal(pushes.length, 1);
    assert.equal(pushes[0]?.provider, 'github');
    assert.equal(pushes[0]?.after, '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c');
    assert.ok(pushes[0]?.repositoryUrls.includes('https://github.com/example-org/lb-state.git'));
  });

  it('a push to a ref that is not followed: 202 with fetching false', async () => {
    const { app, pushes } = setup(SECRET);
    const body = fixture('github-push.json').replace('refs/heads/main', 'refs/heads/feature');
    const r = await answer(await app.request('/hooks/git', githubPush(body)));
    assert.equal(r.status, 202);
    assert.equal(r.json.fetching, false);
    assert.equal(r.json.ref, 'refs/heads/feature');
    assert.equal(pushes.length, 1);
  });

  it('GitLab Push Hook with the right token and Gitea push with the right signature: 202', async () => {
    const { app, pushes } = setup(SECRET);
    const gl = await app.request('/hooks/git', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-token': SECRET,
      },
      body: fixture('gitlab-push.json'),
    });
    assert.equal(gl.status, 202);
    const giteaBody = fixture('gitea-push.json');
    const gt = await app.request('/hooks/git', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitea-event': 'push',
        'x-gitea-signature': sign(giteaBody).slice('sha256='.length),
      },
      body: giteaBody,
    });
    assert.equal(gt.status, 202);
    assert.deepEqual(
      pushes.map((p) => p.provider),
      ['gitlab', 'gitea'],
    );
  });

  it('a GitHub ping: 200, not fetching, onPush not called', async () => {
    const { app, pushes } = setup(SECRET);
    const r = await answer(
      await app.request('/hooks/git', githubPush(fixture('github-ping.json'), { event: 'ping' })),
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { accepted: true, fetching: false, event: 'ping' });
    assert.equal(pushes.length, 0);
  });

  it('bad signature: 403 and onPush not called; missing signature: 401', async () => {
    const { app, pushes } = setup(SECRET);
    const body = fixture('github-push.json');
    const bad = await answer(await app.request('/hooks/git', githubPush(body, { secret: 'guess' })));
    assert.equal(bad.status, 403);
    assert.deepEqual(bad.json, { error: 'signature does not match: check the webhook secret' });

    const unsigned = await answer(
      await app.request('/hooks/git', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-github-event': 'push' },
        body,
      }),
    );
    assert.equal(unsigned.status, 401);
    assert.match(String(unsigned.json.error), /missing X-Hub-Signature-256 header/);

    const wrongToken = await app.request('/hooks/git', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-token': 'nope',
      },
      body: fixture('gitlab-push.json'),
    });
    assert.equal(wrongToken.status, 403);
    assert.equal(pushes.length, 0);
  });

  it('a body over the limit: 413 before verifying, onPush not called', async () => {
    const { app, pushes } = setup(SECRET);
    const huge = `{"ref":"refs/heads/main","pad":"${'x'.repeat(HOOK_MAX_BYTES)}"}`;
    const r = await answer(await app.request('/hooks/git', githubPush(huge)));
    assert.equal(r.status, 413);
    assert.match(String(r.json.error), /larger than 1 MiB/);
    assert.equal(pushes.length, 0);
  });

  it('413 also when the body streams without a Content-Length', async () => {
    const { app, pushes } = setup(SECRET, 1024);
    const chunk = new TextEncoder().encode('x'.repeat(600));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const req = new Request('http://localhost/hooks/git', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': sign(''),
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(req.headers.has('content-length'), false);
    const r = await answer(await app.request(req));
    assert.equal(r.status, 413);
    assert.match(String(r.json.error), /larger than 1 KiB/);
    assert.equal(pushes.length, 0);
  });

  it('wrong content type: 415', async () => {
    const { app, pushes } = setup(SECRET);
    const form = `payload=${encodeURIComponent(fixture('github-push.json'))}`;
    const r = await answer(
      await app.request('/hooks/git', githubPush(form, { type: 'application/x-www-form-urlencoded' })),
    );
    assert.equal(r.status, 415);
    assert.match(String(r.json.error), /application\/json/);
    assert.equal(pushes.length, 0);
  });

  it('malformed JSON with a valid signature: 400', async () => {
    const { app, pushes } = setup(SECRET);
    const r = await answer(await app.request('/hooks/git', githubPush('{"ref": ')));
    assert.equal(r.status, 400);
    assert.match(String(r.json.error), /malformed JSON/);
    assert.equal(pushes.length, 0);
  });

  it('unsupported event: 422 naming it', async () => {
    const { app } = setup(SECRET);
    const r = await answer(
      await app.request('/hooks/git', githubPush(fixture('github-issues.json'), { event: 'issues' })),
    );
    assert.equal(r.status, 422);
    assert.match(String(r.json.error), /unsupported event 'issues'/);
  });

  it('no secret configured: 404 saying how to switch the webhook on, even for a "valid" request', async () => {
    for (const secret of [undefined, '', '  \n']) {
      const { app, pushes } = setup(secret);
      const r = await answer(
        await app.request('/hooks/git', githubPush(fixture('github-push.json'), { secret: '' })),
      );
      assert.equal(r.status, 404);
      assert.deepEqual(r.json, { error: WEBHOOK_DISABLED });
      assert.match(WEBHOOK_DISABLED, /webhook\.secretFile.*KEEPGIT_WEBHOOK_SECRET/);
      assert.equal(pushes.length, 0);
    }
  });

  it('onPush failing: 500 with a message that leaks nothing', async () => {
    const app = hookRoutes({
      secret: SECRET,
      onPush: () => {
        throw new Error(`internal detail ${SECRET}`);
      },
    });
    const r = await answer(await app.request('/hooks/git', githubPush(fixture('github-push.json'))));
    assert.equal(r.status, 500);
    assert.ok(!r.text.includes(SECRET) && !r.text.includes('internal detail'));
  });

  it('the secret and the sent signature never appear in any response body', async () => {
    const { app } = setup(SECRET);
    const body = fixture('github-push.json');
    const requests: RequestInit[] = [
      githubPush(body),
      githubPush(body, { secret: 'guess' }),
      githubPush(body, { secret: SECRET.slice(0, 4) }),
      githubPush('{"ref": '),
      githubPush(body, { type: 'text/plain' }),
      githubPush(fixture('github-issues.json'), { event: 'issues' }),
      githubPush(fixture('github-ping.json'), { event: 'ping' }),
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitlab-event': 'Push Hook',
          'x-gitlab-token': 'tok-3',
        },
        body: fixture('gitlab-push.json'),
      },
    ];
    for (const init of requests) {
      const text = await (await app.request('/hooks/git', init)).text();
      assert.ok(!text.includes(SECRET), text);
      const headers = new Headers(init.headers);
      const sig = headers.get('x-hub-signature-256')?.slice('sha256='.length);
      if (sig) assert.ok(!text.includes(sig), text);
      assert.ok(!text.includes('tok-3'), text);
    }
  });

  it('other methods and paths are not served by this sub-app', async () => {
    const { app } = setup(SECRET);
    assert.equal((await app.request('/hooks/git')).status, 404);
    assert.equal((await app.request('/hooks/other', githubPush('{}'))).status, 404);
  });
});
