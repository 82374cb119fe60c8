import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { verifyWebhook, type WebhookHeaders, type WebhookResult } from '../../src/source/webhook-verify.ts';

// Payloads in test/fixtures/webhooks/ are shaped like the hosts' own deliveries; the
// headers below are the ones each host sends (Gitea also sends GitHub's and Gogs' names).

const SECRET = 's3cr3t-Hook-Value';
const fixture = (name: string): Uint8Array =>
  readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
const hmac = (body: Uint8Array, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

function github(event: string, body: Uint8Array, secret = SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/6b02022',
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'x-github-event': event,
    'x-github-hook-id': '475937452',
    'x-hub-signature': `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`,
    'x-hub-signature-256': `sha256=${hmac(body, secret)}`,
  };
}

function gitlab(event: string, token = SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'GitLab/16.11.0',
    'x-gitlab-event': event,
    'x-gitlab-event-uuid': '4c4e1bd8-1f7a-4a2e-9d7c-2b6c1f0e9a11',
    'x-gitlab-instance': 'https://gitlab.example.com',
    'x-gitlab-token': token,
  };
}

function gitea(event: string, body: Uint8Array, secret = SECRET): Record<string, string> {
  const sig = hmac(body, secret);
  return {
    'content-type': 'application/json',
    'x-github-delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473',
    'x-github-event': event,
    'x-gitea-delivery': 'f6266f16-1bf3-46a5-9ea4-602e06ead473',
    'x-gitea-event': event,
    'x-gitea-signature': sig,
    'x-gogs-event': event,
    'x-gogs-signature': sig,
    'x-hub-signature-256': `sha256=${sig}`,
  };
}

function refused(result: WebhookResult): { status: number; error: string } {
  assert.equal(result.ok, false, `expected a refusal, got ${JSON.stringify(result)}`);
  if (result.ok) throw new Error('unreachable');
  return result;
}

describe('verifyWebhook: GitHub', () => {
  const body = fixture('github-push.json');

  it('accepts a push signed with the secret and extracts ref, after and clone URLs', () => {
    assert.deepEqual(verifyWebhook(github('push', body), body, SECRET), {
      ok: true,
      provider: 'github',
      event: 'push',
      ref: 'refs/heads/main',
      after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
      repositoryUrls: [
        'https://github.com/example-org/lb-state.git',
        'git@github.com:example-org/lb-state.git',
      ],
    });
  });

  it('answers a ping with a valid signature, without a ref', () => {
    const ping = fixture('github-ping.json');
    assert.deepEqual(verifyWebhook(github('ping', ping), ping, SECRET), {
      ok: true,
      provider: 'github',
      event: 'ping',
    });
  });

  it('refuses a ping whose signature is wrong', () => {
    const ping = fixture('github-ping.json');
    assert.equal(refused(verifyWebhook(github('ping', ping, 'other'), ping, SECRET)).status, 403);
  });

  it('401 when X-Hub-Signature-256 is missing (the legacy SHA-1 header is not enough)', () => {
    const headers = github('push', body);
    delete headers['x-hub-signature-256'];
    const r = refused(verifyWebhook(headers, body, SECRET));
    assert.equal(r.status, 401);
    assert.match(r.error, /^missing X-Hub-Signature-256 header/);
  });

  it('403 "signature does not match" for another secret and for a tampered body', () => {
    const other = refused(verifyWebhook(github('push', body, 'wrong-secret'), body, SECRET));
    assert.equal(other.status, 403);
    assert.equal(other.error, 'signature does not match: check the webhook secret');

    const tampered = new TextEncoder().encode(
      new TextDecoder().decode(body).replace('refs/heads/main', 'refs/heads/evil'),
    );
    const r = refused(verifyWebhook(github('push', body), tampered, SECRET));
    assert.equal(r.status, 403);
  });

  it('401 for a malformed signature header: wrong algorithm prefix, short or non-hex digest', () => {
    const sig = hmac(body);
    for (const bad of [`sha1=${sig}`, sig, `sha256=${sig.slice(0, 40)}`, `sha256=${sig.slice(0, 63)}z`]) {
      const r = refused(verifyWebhook({ ...github('push', body), 'x-hub-signature-256': bad }, body, SECRET));
      assert.equal(r.status, 401, bad);
      assert.match(r.error, /^malformed X-Hub-Signature-256 header/);
    }
  });

  it('accepts an upper-case hex digest (HMACs are compared as bytes)', () => {
    const headers = { ...github('push', body), 'x-hub-signature-256': `sha256=${hmac(body).toUpperCase()}` };
    assert.equal(verifyWebhook(headers, body, SECRET).ok, true);
  });

  it('422 for other events, naming the event: "unsupported event \'issues\'"', () => {
    const issues = fixture('github-issues.json');
    const r = refused(verifyWebhook(github('issues', issues), issues, SECRET));
    assert.equal(r.status, 422);
    assert.match(r.error, /^unsupported event 'issues' \(X-GitHub-Event\): only push events trigger a fetch/);
  });

  it('judges the event only after the signature: an unsigned "issues" is 401, not 422', () => {
    const issues = fixture('github-issues.json');
    const headers = github('issues', issues);
    delete headers['x-hub-signature-256'];
    assert.equal(refused(verifyWebhook(headers, issues, SECRET)).status, 401);
  });

  it('415 for the form-encoded content type GitHub offers, saying to choose application/json', () => {
    const form = new TextEncoder().encode(`payload=${encodeURIComponent(new TextDecoder().decode(body))}`);
    const headers = { ...github('push', form), 'content-type': 'application/x-www-form-urlencoded' };
    const r = refused(verifyWebhook(headers, form, SECRET));
    assert.equal(r.status, 415);
    assert.match(r.error, /application\/x-www-form-urlencoded.*application\/json/);
  });

  it('accepts application/json with a charset parameter', () => {
    const headers = { ...github('push', body), 'content-type': 'application/json; charset=utf-8' };
    assert.equal(verifyWebhook(headers, body, SECRET).ok, true);
  });

  it('400 for a signed body that is not JSON', () => {
    const junk = new TextEncoder().encode('{"ref": "refs/heads/main", ');
    const r = refused(verifyWebhook(github('push', junk), junk, SECRET));
    assert.equal(r.status, 400);
    assert.match(r.error, /malformed JSON/);
  });

  it('422 for a signed push without a usable ref or after', () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /not a JSON object/],
      [{ after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c' }, /"ref"/],
      [{ ref: 'main', after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c' }, /"ref"/],
      [{ ref: 'refs/heads/main' }, /"after"/],
      [{ ref: 'refs/heads/main', after: 'HEAD' }, /"after"/],
    ];
    for (const [payload, why] of cases) {
      const b = new TextEncoder().encode(JSON.stringify(payload));
      const r = refused(verifyWebhook(github('push', b), b, SECRET));
      assert.equal(r.status, 422, JSON.stringify(payload));
      assert.match(r.error, why);
    }
  });

  it('passes a branch deletion through (after is all zeros): the caller decides', () => {
    const b = new TextEncoder().encode(
      JSON.stringify({ ref: 'refs/heads/old', after: '0'.repeat(40), deleted: true }),
    );
    const r = verifyWebhook(github('push', b), b, SECRET);
    assert.equal(r.ok && r.event === 'push' && r.after, '0'.repeat(40));
  });
});

describe('verifyWebhook: GitLab', () => {
  it('accepts a Push Hook whose X-Gitlab-Token equals the secret', () => {
    const body = fixture('gitlab-push.json');
    assert.deepEqual(verifyWebhook(gitlab('Push Hook'), body, SECRET), {
      ok: true,
      provider: 'gitlab',
      event: 'push',
      ref: 'refs/heads/main',
      after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      repositoryUrls: [
        'https://gitlab.example.com/netops/lb-state.git',
        'git@gitlab.example.com:netops/lb-state.git',
      ],
    });
  });

  it('accepts a Tag Push Hook', () => {
    const body = fixture('gitlab-tag-push.json');
    const r = verifyWebhook(gitlab('Tag Push Hook'), body, SECRET);
    assert.equal(r.ok && r.event === 'push' && r.ref, 'refs/tags/v1.2.0');
  });

  it('401 without X-Gitlab-Token, 403 with a wrong one of any length', () => {
    const body = fixture('gitlab-push.json');
    const headers = gitlab('Push Hook');
    delete headers['x-gitlab-token'];
    const missing = refused(verifyWebhook(headers, body, SECRET));
    assert.equal(missing.status, 401);
    assert.match(missing.error, /^missing X-Gitlab-Token header/);
    for (const token of ['x', SECRET.slice(0, -1), `${SECRET}x`, SECRET.toUpperCase(), 'é'.repeat(300)]) {
      const r = refused(verifyWebhook(gitlab('Push Hook', token), body, SECRET));
      assert.equal(r.status, 403, token);
      assert.match(r.error, /does not match: check the webhook secret/);
    }
  });

  it('422 for Issue Hook, listing the events that do trigger a fetch', () => {
    const body = fixture('gitlab-push.json');
    const r = refused(verifyWebhook(gitlab('Issue Hook'), body, SECRET));
    assert.equal(r.status, 422);
    assert.match(r.error, /unsupported event 'Issue Hook'.*Push Hook and Tag Push Hook/);
  });
});

describe('verifyWebhook: Gitea and Forgejo', () => {
  const body = fixture('gitea-push.json');

  it('accepts a push signed in X-Gitea-Signature (bare hex), recognised as Gitea despite its GitHub headers', () => {
    assert.deepEqual(verifyWebhook(gitea('push', body), body, SECRET), {
      ok: true,
      provider: 'gitea',
      event: 'push',
      ref: 'refs/heads/main',
      after: 'bffeb74224043ba2feb48d137756c8a9331c449a',
      repositoryUrls: [
        'https://git.example.org/netops/lb-state.git',
        'ssh://git@git.example.org/netops/lb-state.git',
      ],
    });
  });

  it('checks X-Gitea-Signature even when the GitHub-style signature is right', () => {
    const headers = { ...gitea('push', body), 'x-gitea-signature': hmac(body, 'other') };
    const r = refused(verifyWebhook(headers, body, SECRET));
    assert.equal(r.status, 403);
    assert.equal(r.error, 'signature does not match: check the webhook secret');
  });

  it('401 when X-Gitea-Signature is missing', () => {
    const headers = gitea('push', body);
    delete headers['x-gitea-signature'];
    assert.match(refused(verifyWebhook(headers, body, SECRET)).error, /^missing X-Gitea-Signature header/);
  });

  it('agrees with RFC 4231 test case 2 (key "Jefe")', () => {
    const data = new TextEncoder().encode('what do ya want for nothing?');
    const headers = {
      'content-type': 'application/json',
      'x-gitea-event': 'push',
      'x-gitea-signature': '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    };
    // Authenticated (the HMAC matched), then refused for not being JSON: 400, not 403.
    assert.equal(refused(verifyWebhook(headers, data, 'Jefe')).status, 400);
  });

  it('Forgejo: X-Forgejo-Signature is the one checked; a good X-Gitea-Signature does not rescue a bad one', () => {
    const forgejo = (sig: string): Record<string, string> => ({
      ...gitea('push', body),
      'x-forgejo-event': 'push',
      'x-forgejo-signature': sig,
    });
    const good = verifyWebhook(forgejo(hmac(body)), body, SECRET);
    assert.equal(good.ok && good.provider, 'gitea');
    assert.equal(refused(verifyWebhook(forgejo(hmac(body, 'other')), body, SECRET)).status, 403);
  });

  it('422 for a Gitea issues event', () => {
    assert.equal(refused(verifyWebhook(gitea('issues', body), body, SECRET)).status, 422);
  });
});

describe('verifyWebhook: anything else', () => {
  const body = fixture('github-push.json');

  it('400 when no known event header is present', () => {
    const r = refused(verifyWebhook({ 'content-type': 'application/json' }, body, SECRET));
    assert.equal(r.status, 400);
    assert.match(r.error, /X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event or X-Forgejo-Event/);
  });

  it('refuses everything when the configured secret is empty, even an empty GitLab token', () => {
    const r = refused(verifyWebhook({ ...gitlab('Push Hook'), 'x-gitlab-token': '' }, body, ''));
    assert.equal(r.status, 403);
    assert.match(r.error, /secret is empty/);
  });

  it('never puts the secret or the received signature or token in an error', () => {
    const b = new TextEncoder().encode('not json');
    const guesses = ['wrong-secret', `${SECRET}-but-longer`, SECRET.slice(0, 5)];
    const cases: [WebhookHeaders, Uint8Array][] = [
      [github('push', b), b],
      [github('issues', body), body],
      [{ ...github('push', body), 'content-type': 'text/plain' }, body],
      ...guesses.map((g): [WebhookHeaders, Uint8Array] => [github('push', body, g), body]),
      ...guesses.map((g): [WebhookHeaders, Uint8Array] => [gitlab('Push Hook', g), body]),
      ...guesses.map((g): [WebhookHeaders, Uint8Array] => [gitea('push', body, g), body]),
      [{ ...github('push', body), 'x-hub-signature-256': `sha1=${hmac(body, 'x')}` }, body],
    ];
    for (const [headers, payload] of cases) {
      const r = refused(verifyWebhook(headers, payload, SECRET));
      assert.ok(!r.error.includes(SECRET), r.error);
      for (const name of ['x-hub-signature-256', 'x-gitlab-token', 'x-gitea-signature']) {
        const sent = headers[name];
        if (sent) assert.ok(!r.error.includes(sent.replace(/^sha\d+=/, '')), `${name} echoed: ${r.error}`);
      }
    }
  });
});
