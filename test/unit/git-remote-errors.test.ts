import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Errors } from 'isomorphic-git';
import { cacheDirFor, describeFetchError, refLabel } from '../../src/source/git-remote.ts';

// The messages a person sees when a fetch fails, from the errors isomorphic-git and Node
// raise; the network cases themselves are exercised in test/lab/git-remote.test.ts.

const URL_ = 'https://git.example.com/ops/ha.git';
const sysErr = (code: string): Error => Object.assign(new Error(`${code} something`), { code });

describe('describeFetchError', () => {
  it('names the URL and the cause for network errors', () => {
    assert.equal(
      describeFetchError(sysErr('ENOTFOUND'), URL_, { kind: 'none' }),
      `cannot reach ${URL_}: host name not found (DNS)`,
    );
    assert.equal(
      describeFetchError(sysErr('ETIMEDOUT'), URL_, { kind: 'none' }),
      `cannot reach ${URL_}: connection timed out`,
    );
    assert.equal(
      describeFetchError(new Error('Request timed out'), URL_, { kind: 'none' }),
      `cannot reach ${URL_}: no answer in time`,
    );
  });

  it('points at NODE_EXTRA_CA_CERTS for untrusted certificates', () => {
    for (const code of [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    ]) {
      assert.match(
        describeFetchError(sysErr(code), URL_, { kind: 'none' }),
        /TLS certificate not trusted .*NODE_EXTRA_CA_CERTS/,
      );
    }
  });

  it('401/403 say where credentials go, or that the given ones were refused', () => {
    const e401 = new Errors.HttpError(401, 'Unauthorized', '');
    assert.match(
      describeFetchError(e401, URL_, { kind: 'none' }),
      /^authentication failed for https:\/\/git\.example\.com\/ops\/ha\.git \(HTTP 401\): set KEEPGIT_GIT_TOKEN/,
    );
    const e403 = new Errors.HttpError(403, 'Forbidden', '');
    const m = describeFetchError(e403, URL_, {
      kind: 'token',
      token: 'sekrit-123',
      username: 'x',
      scheme: 'basic',
    });
    assert.match(m, /HTTP 403\): the token given was refused/);
  });

  it('other HTTP answers, non-Git servers and missing shallow support', () => {
    assert.match(
      describeFetchError(new Errors.HttpError(404, 'Not Found', ''), URL_, { kind: 'none' }),
      /no repository at .* check source\.url/,
    );
    assert.match(
      describeFetchError(new Errors.HttpError(502, 'Bad Gateway', ''), URL_, { kind: 'none' }),
      /answered HTTP 502/,
    );
    assert.match(
      describeFetchError(new Errors.SmartHttpError('x', 'y'), URL_, { kind: 'none' }),
      /not a Git smart-HTTP server/,
    );
    assert.match(
      describeFetchError(new Errors.RemoteCapabilityError('shallow', 'depth'), URL_, { kind: 'none' }),
      /set source\.depth: 0/,
    );
  });

  it('never repeats a secret, even when a library message contains one', () => {
    const m = describeFetchError(new Error('weird failure with pw hunter2 inside'), URL_, {
      kind: 'basic',
      username: 'u',
      password: 'hunter2',
    });
    assert.equal(m, `fetching ${URL_} failed: weird failure with pw *** inside`);
  });
});

describe('cacheDirFor and refLabel', () => {
  it('one cache per URL under $stateDir/git', () => {
    const a = cacheDirFor('/var/lib/keepgit', URL_);
    assert.match(a, /^\/var\/lib\/keepgit\/git\/[0-9a-f]{16}$/);
    assert.equal(cacheDirFor('/var/lib/keepgit', URL_), a);
    assert.notEqual(cacheDirFor('/var/lib/keepgit', 'https://git.example.com/ops/other.git'), a);
  });

  it('labels refs for status', () => {
    assert.equal(refLabel({ branch: 'main' }), 'branch main');
    assert.equal(refLabel({ tag: 'v1' }), 'tag v1');
  });
});
