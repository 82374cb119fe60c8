import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import type { AgentStatus } from '../../src/agent/run-agent.ts';
import { agentStatusSource } from '../../src/api/agent-status-source.ts';
import { listen } from '../../src/api/listen.ts';
import type { DriftItem } from '../../src/api/node-status.ts';
import { statusApp } from '../../src/api/status-app.ts';
import { agentStatus, instance } from '../unit/status-fixtures.ts';

// The dashboard in a real browser (Debian's chromium, headless) against a real server on
// 127.0.0.1: the instance table names the master, drift rows are highlighted, and the page
// follows a change of status on its own (its 2 s refresh) without a reload. No root needed:
// only a listening socket on loopback.

const CHROMIUM = '/usr/bin/chromium';
const why = existsSync(CHROMIUM) ? undefined : `needs ${CHROMIUM} (apt-get install chromium)`;
const skip = why !== undefined && process.env.CI !== 'true' ? why : false;

describe('dashboard in a browser', () => {
  it('shows the master and drift, and updates when the status changes', {
    skip,
    timeout: 60_000,
  }, async () => {
    if (why) assert.fail(`dashboard browser test cannot run: ${why}`);
    let agent: AgentStatus = agentStatus();
    let drift: DriftItem[] = [
      {
        kind: 'vip',
        subject: 'web4 192.0.2.100/24 on eth0',
        expected: 'present',
        actual: 'absent',
        since: '2024-05-01T10:00:09.000Z',
      },
    ];
    const source = agentStatusSource({
      agent: { status: () => agent },
      source: { kind: 'dir', url: '/srv/fleet', ref: null, lastFetchAt: null },
      vips: () => ({ web4: ['192.0.2.100/24'] }),
      drift: () => drift,
    });
    const server = await listen(statusApp(source), { host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const url = `http://127.0.0.1:${server.port}/`;
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(url);

      const masterOf = (name: string) =>
        page.locator(`#instances tr[data-instance="${name}"] td.master`).innerText();
      assert.equal(await masterOf('web4'), 'this node (lb1)');
      assert.equal(await masterOf('web6'), '192.0.2.12');
      assert.equal(await page.locator('#instances tr[data-instance="web4"] td.state').innerText(), 'MASTER');
      assert.equal(await page.locator('#ready').innerText(), 'Not ready: Drifted');

      // Drift rows are highlighted: a red left border and a red-tinted background.
      const driftRow = page.locator('#drift tr.drift');
      assert.equal(await driftRow.count(), 1);
      const style = await driftRow
        .locator('td')
        .first()
        .evaluate((td) => {
          const cs = getComputedStyle(td);
          return { bg: cs.backgroundColor, border: cs.borderLeftColor, width: cs.borderLeftWidth };
        });
      assert.equal(style.bg, 'rgb(255, 235, 233)');
      assert.equal(style.border, 'rgb(207, 34, 46)');
      assert.equal(style.width, '4px');
      // A real server that is down reads DOWN, in red.
      const down = page.locator('table.rs tr[data-rs="198.51.100.12:80"] td.health');
      assert.equal(await down.innerText(), 'DOWN');
      assert.equal(await down.evaluate((td) => getComputedStyle(td).color), 'rgb(207, 34, 46)');

      // The peer takes over web4 and the drift is healed: the open page follows by itself.
      agent = agentStatus({
        instances: [
          instance({ state: 'Backup', master: '192.0.2.12', effectivePriority: 90 }),
          instance({ name: 'web6', state: 'Backup', master: '192.0.2.12' }),
        ],
      });
      drift = [];
      await page.waitForFunction(
        () =>
          document.querySelector('#instances tr[data-instance="web4"] td.master')?.textContent ===
          '192.0.2.12',
        undefined,
        { timeout: 20_000 },
      );
      assert.equal(await page.locator('#instances tr[data-instance="web4"] td.state').innerText(), 'BACKUP');
      assert.equal(await page.locator('#drift tr.drift').count(), 0);
      assert.equal(await page.locator('#no-drift').count(), 1);
      assert.equal(await page.locator('#ready').innerText(), 'Ready');
      assert.match(await page.locator('#live').innerText(), /^live: updated/);

      // Self-contained: the page asked for nothing but itself and /status.
      for (const r of requests) assert.ok(r === url || r === `${url}status`, `unexpected request ${r}`);

      // Without JavaScript the first view is still all there (rendered by the agent).
      const noJs = await browser.newContext({ javaScriptEnabled: false });
      const plain = await noJs.newPage();
      await plain.goto(url);
      assert.equal(
        await plain.locator('#instances tr[data-instance="web4"] td.master').innerText(),
        '192.0.2.12',
      );
      await noJs.close();
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
