import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type AgentSettings, agentSettings } from '../../src/cli/agent-settings.ts';
import { parseAgentConfig, pollIntervalMs } from '../../src/config/agent-config.ts';

// The agent's own configuration file and the command line on top of it.

const io = () => {
  const err: string[] = [];
  return { io: { out: () => {}, err: (l: string) => err.push(l) }, err };
};

describe('agent configuration file', () => {
  it('reads a Git source with its poll interval, webhook and trust sections', () => {
    const r = parseAgentConfig(
      `node: lb1
source:
  git: { url: https://git.example.com/ha.git, branch: main, interval: 10s }
webhook: { secretFile: /etc/keepgit/hook }
trust:
  keys: [ { file: /etc/keepgit/alice.pub }, "ssh-ed25519 AAAA carol" ]
`,
      'agent.yaml',
    );
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.equal(r.config.node, 'lb1');
    assert.ok(r.config.source.git);
    assert.equal(pollIntervalMs(r.config.source.git), 10_000);
    assert.equal(pollIntervalMs({ url: 'https://x/y.git' }), 30_000);
  });

  it('names the file, line and field of a mistake', () => {
    const r = parseAgentConfig('source:\n  git: { url: https://x/y.git, interval: often }\n', 'agent.yaml');
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.errors.join('\n'), /agent\.yaml:2:\d+.*source\.git\.interval.*duration/);
    const unknown = parseAgentConfig('source: { dir: { path: /srv } }\nselfheal: true\n', 'agent.yaml');
    assert.match(unknown.ok ? '' : unknown.errors.join('\n'), /agent\.yaml:2:1.*selfheal/);
  });

  it('wants exactly one source, and a branch or a tag', () => {
    const none = parseAgentConfig('source: {}\n', 'a.yaml');
    assert.match(none.ok ? '' : none.errors.join('\n'), /exactly one of source\.git and source\.dir/);
    const both = parseAgentConfig('source: { git: { url: https://x/y.git, branch: a, tag: b } }\n', 'a.yaml');
    assert.match(both.ok ? '' : both.errors.join('\n'), /branch or tag, not both/);
  });
});

describe('agent settings: file and flags', () => {
  it('takes the source from the flags over the file, and the state directory from the environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-settings-'));
    try {
      const file = join(dir, 'agent.yaml');
      writeFileSync(
        file,
        'node: lb1\nsource: { git: { url: https://git.example.com/ha.git, interval: 5s } }\n',
      );
      const { io: i } = io();
      const s = (await agentSettings(
        { config: file, repo: 'https://other.example.com/ha.git', branch: 'prod' },
        i,
        { KEEPGIT_STATE_DIR: '/tmp/kg-state' },
      )) as AgentSettings;
      assert.equal(s.node, 'lb1');
      assert.equal(s.stateDir, '/tmp/kg-state');
      assert.deepEqual(
        s.source.kind === 'git' && [s.source.git.url, s.source.git.branch, s.source.git.interval],
        ['https://other.example.com/ha.git', 'prod', '5s'],
      );
      const d = (await agentSettings({ 'repo-dir': dir, node: 'lb2' }, i, {})) as AgentSettings;
      assert.deepEqual([d.node, d.source.kind, d.stateDir], ['lb2', 'dir', '/var/lib/keepgit']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses usage mistakes with exit 2 and a bad file with exit 1, saying why', async () => {
    const { io: i, err } = io();
    assert.equal(await agentSettings({ node: 'lb1' }, i, {}), 2);
    assert.match(err.join('\n'), /--config FILE, --repo-dir DIR or --repo URL/);
    assert.equal(await agentSettings({ 'repo-dir': '/x', repo: 'https://x/y.git', node: 'a' }, i, {}), 2);
    assert.equal(await agentSettings({ 'repo-dir': '/x', branch: 'main', node: 'a' }, i, {}), 2);
    assert.equal(await agentSettings({ 'repo-dir': '/x' }, i, {}), 2);
    assert.equal(await agentSettings({ config: '/nonexistent/agent.yaml' }, i, {}), 1);
    assert.match(err.join('\n'), /cannot read the agent configuration \(ENOENT\)/);
  });

  it('reads the webhook secret from one place only, and warns about a world-readable file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-settings-'));
    try {
      const secret = join(dir, 'secret');
      writeFileSync(secret, 'hunter2\n');
      chmodSync(secret, 0o644);
      const file = join(dir, 'agent.yaml');
      writeFileSync(
        file,
        `node: lb1\nsource: { dir: { path: ${dir} } }\nwebhook: { secretFile: ${secret} }\n`,
      );
      const { io: i, err } = io();
      const s = (await agentSettings({ config: file }, i, {})) as AgentSettings;
      assert.equal(s.webhookSecret, 'hunter2');
      assert.match(s.warnings.join('\n'), /readable by every user: chmod 600/);
      assert.equal(await agentSettings({ config: file }, i, { KEEPGIT_WEBHOOK_SECRET: 'x' }), 1);
      assert.match(err.join('\n'), /set twice/);
      assert.ok(!err.join('\n').includes('hunter2'), 'the secret is never printed');
      const k = (await agentSettings({ 'repo-dir': dir, node: 'a' }, i, {
        KEEPGIT_WEBHOOK_SECRET: 'env',
      })) as AgentSettings;
      assert.equal(k.webhookSecret, 'env');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a trust key it cannot read, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keepgit-settings-'));
    try {
      const file = join(dir, 'agent.yaml');
      writeFileSync(
        file,
        `node: lb1\nsource: { dir: { path: ${dir} } }\ntrust: { keys: [ { file: missing.pub } ] }\n`,
      );
      const { io: i, err } = io();
      assert.equal(await agentSettings({ config: file }, i, {}), 1);
      assert.match(err.join('\n'), /missing\.pub.*no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
