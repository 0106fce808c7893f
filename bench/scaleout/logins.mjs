// Scan-to-log-in completions per second (redirect → session, as in
// bench/links) on three set-ups: SQLite with one instance, PostgreSQL with
// one instance, PostgreSQL with two instances sharing the database (each
// prepared attempt is started and completed on one instance, alternating).
// Two cases each: `login` (an app already linked: the redirect exchanges the
// code with WeChat and signs in) and `register` (a new app, pushes dropped:
// the redirect exchanges the code and registers an account).
// Environment: BENCH_PG_URL (a PostgreSQL server URL, databases are created
// in it), N (300), C (8), BINDERY_BIN.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  startStack, startPeer, newApp, linkApp, WebClient, startScanLogin, completeAuthorization,
} from '../../tests/e2e/lib/stack.mjs';

const N = Number(process.env.N || 300);
const C = Number(process.env.C || 8);
const PG = process.env.BENCH_PG_URL;

async function pool(items, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

function newDb(name) {
  const r = spawnSync('psql', [PG, '-qAtc', `CREATE DATABASE ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return u.toString();
}

// Prepares one attempt per app on instance urls[i % n], then completes them
// C at a time; completions per second.
async function run(stack, urls, apps) {
  const prepared = [];
  await pool(apps, C, async (app, i) => {
    const web = new WebClient(urls[i % urls.length]);
    const flow = await startScanLogin(stack, web, app);
    if (flow.error) throw new Error(JSON.stringify(flow.error));
    prepared.push({ web, flow });
  });
  let failed = 0;
  const t0 = performance.now();
  await pool(prepared, C, async ({ web, flow }) => {
    const r = await completeAuthorization(web, flow);
    if (!r.resp || !r.resp.SignedIn) failed += 1;
  });
  const rate = prepared.length / ((performance.now() - t0) / 1000);
  if (failed) throw new Error(`${failed} completions failed`);
  return rate;
}

async function setup(label, store, instances) {
  const keyDir = await mkdtemp(join(tmpdir(), 'bindery-bench-key-'));
  const env = {
    BINDERY_LINK_MAX_LOGIN_STARTS: '1000000', BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key'),
    ...(store ? { BINDERY_STORE: store } : {}),
  };
  const S = await startStack({ name: `bench_${label.replace(/\W+/g, '_')}`, env });
  const peers = [];
  try {
    // Behind a load balancer every instance has the one public URL: WeChat
    // checks the redirect's domain against it.
    for (let i = 1; i < instances; i++) {
      peers.push(await startPeer(S, { name: `bench_peer${i}`, env: { ...env, BINDERY_PUBLIC_URL: S.url } }));
    }
    const urls = [S.url, ...peers.map((p) => p.url)];
    const owner = new WebClient(S.url);
    await owner.signup(`bench.${Date.now()}@example.com`, 'a bench password 1');
    const linked = await newApp(S.ctl, { kind: 'oa' });
    const l = await linkApp(S, owner, linked);
    if (l.error) throw new Error(JSON.stringify(l.error));
    const login = await run(S, urls, Array(N).fill(linked));
    await S.ctl.faults({ drop_pushes: true });
    const fresh = [];
    for (let i = 0; i < N; i++) fresh.push(await newApp(S.ctl, { kind: 'mp' }));
    const reg = await run(S, urls, fresh);
    console.log(`  ${label.padEnd(28)} login ${login.toFixed(0).padStart(5)} /s   register ${reg.toFixed(0).padStart(5)} /s`);
  } finally {
    for (const p of peers) await p.stop();
    await S.stop();
    await rm(keyDir, { recursive: true, force: true });
  }
}

console.log(`  N=${N} attempts per case, ${C} at a time`);
await setup('SQLite, one instance', null, 1);
if (PG) {
  const tag = Math.random().toString(36).slice(2, 8);
  await setup('PostgreSQL, one instance', newDb(`bench_l1_${tag}`), 1);
  await setup('PostgreSQL, two instances', newDb(`bench_l2_${tag}`), 2);
} else {
  console.log('  (BENCH_PG_URL not set: PostgreSQL cases skipped)');
}
