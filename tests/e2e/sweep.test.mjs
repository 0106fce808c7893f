// The link sweep on several instances: 1,000 links due at once on one
// PostgreSQL database, two `bindery serve` instances checking them in the
// background, and the WeChat emulator counting the checks it answers. Each
// link must be checked exactly once, and both instances must share the work
// (their /metrics say how much each did). Runs when the suite runs on
// PostgreSQL (BINDERY_E2E_PG_URL); skipped with a reason on SQLite, where
// one process owns the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startStack, startPeer, newApp, WebClient, startScanLogin, completeAuthorization, linksOf, sqlCount, waitFor,
} from './lib/stack.mjs';

const pgBase = process.env.BINDERY_E2E_PG_URL;
const skip = pgBase ? false : 'runs on PostgreSQL only (BINDERY_E2E_PG_URL is not set)';
const LINKS = Number(process.env.SWEEP_LINKS || 1000);
// link.check_interval for the run: the checks thread ticks every 20 s, and a
// checked link is due again only after 72 s or more, well after the sweep.
const INTERVAL = 80;

function psql(url, query) {
  const r = spawnSync('psql', [url, '-qAtc', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

function createDb(base) {
  const db = `sweep_${Math.random().toString(36).slice(2, 10)}`;
  psql(base, `CREATE DATABASE ${db}`);
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}

// Runs fn(item, index) over items, width at a time.
async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

async function checksMetric(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(/^bindery_link_checks_total (\d+)$/m);
  assert.ok(m, 'bindery_link_checks_total is in /metrics');
  return Number(m[1]);
}

async function checkCounts(ctl) {
  const calls = await ctl.calls();
  return new Map(Object.entries(calls.api_get_authorizer_info || {}));
}

test(`${LINKS} due links, two instances: each link is checked exactly once`, { skip, timeout: 300000 }, async () => {
  const store = createDb(pgBase);
  const keyDir = await mkdtemp(join(tmpdir(), 'bindery-key-'));
  const shared = {
    BINDERY_STORE: store, BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key'),
    BINDERY_LINK_CHECK_INTERVAL: String(INTERVAL),
    // every scan-to-log-in starts from 127.0.0.1: lift the per-address limit
    BINDERY_LINK_MAX_LOGIN_STARTS: '1000000',
  };
  const T = await startStack({ name: 'sweep_a', env: shared });
  let peer;
  try {
    peer = await startPeer(T, { name: 'sweep_b', env: shared });
    // LINKS apps registered through scan-to-log-in (WeChat's pushes dropped,
    // so each redirect exchanges its code): one account and one link each.
    await T.ctl.faults({ drop_pushes: true });
    const apps = [];
    for (let i = 0; i < LINKS; i++) apps.push(await newApp(T.ctl, { kind: 'mp' }));
    const sessions = [];
    await pool(apps, 8, async (app, i) => {
      const web = new WebClient(T.url);
      const flow = await startScanLogin(T, web, app);
      assert.equal(flow.error, undefined, JSON.stringify(flow.error));
      const done = await completeAuthorization(web, flow);
      assert.ok(done.resp && done.resp.SignedIn, JSON.stringify(done.body));
      sessions[i] = web;
    });
    await T.ctl.faults({ drop_pushes: false });
    assert.equal(sqlCount(T.srv, "SELECT COUNT(*) FROM wechat_links WHERE state = 'active'"), LINKS);
    // A link made through one instance is seen, with its session, on the other.
    const onB = new WebClient(peer.url);
    onB.cookies = new Map(sessions[0].cookies);
    onB.csrf = sessions[0].csrf;
    assert.equal((await linksOf(onB))[apps[0].appid].State, 'active');

    const before = await checkCounts(T.ctl);
    const metricsBefore = [await checksMetric(T.url), await checksMetric(peer.url)];
    // Everything due now.
    const dueAt = Math.floor(Date.now() / 1000);
    psql(store, `UPDATE wechat_links SET check_after = ${dueAt}`);
    const t0 = Date.now();
    await waitFor(() => sqlCount(T.srv,
      `SELECT COUNT(*) FROM wechat_links WHERE state = 'active' AND check_after <= ${dueAt}`) === 0,
    { timeout: 120000, interval: 250, what: 'every due link to be checked' });
    const sweepSeconds = (Date.now() - t0) / 1000;

    const after = await checkCounts(T.ctl);
    const wrong = apps.filter((a) => after.get(a.appid) - before.get(a.appid) !== 1)
      .map((a) => `${a.appid}: ${after.get(a.appid) - before.get(a.appid)}`);
    assert.deepEqual(wrong, [], 'links not checked exactly once');
    const byInstance = [await checksMetric(T.url) - metricsBefore[0],
      await checksMetric(peer.url) - metricsBefore[1]];
    assert.equal(byInstance[0] + byInstance[1], LINKS, `checks by instance: ${byInstance}`);
    assert.ok(byInstance[0] > 0 && byInstance[1] > 0, `both instances checked links: ${byInstance}`);
    assert.equal(sqlCount(T.srv, "SELECT COUNT(*) FROM wechat_links WHERE state <> 'active' OR check_error IS NOT NULL"), 0);
    console.log(`# sweep of ${LINKS} links: ${sweepSeconds.toFixed(1)} s after they fell due; checks by instance ${byInstance.join(' + ')}`);
  } finally {
    if (peer) assert.equal(await peer.stop(), 0);
    assert.equal(await T.stop(), 0);
    await rm(keyDir, { recursive: true, force: true });
  }
});
