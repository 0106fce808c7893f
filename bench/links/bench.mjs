// Link life cycle measurements (docs/links.md) against the real binaries:
// `bindery serve` wired to `bindery platform`, as tests/e2e/lib/stack.mjs
// starts them.
//
//   1. scan-to-log-in completions per second, redirect → session: N attempts
//      are prepared (login page start, WeChat page, phone scan), then their
//      redirects are completed C at a time; one completion is
//      POST /wechat/authorized up to the session cookie. Three cases:
//        login     an app linked to an account (WeChat's already-authorized
//                  path: no push; the redirect exchanges the code:
//                  api_query_auth + api_get_authorizer_info + one transaction)
//        register  unknown apps, pushes dropped: the redirect exchanges the
//                  code and registers a new account
//        pushed    unknown apps whose `authorized` pushes were applied before
//                  the redirect (the push registered the account): the
//                  redirect only records the login, no WeChat call
//   2. time from 停止授权 (the mp page's POST) to `revoked` as ListLinks shows
//      it (polled every 10 ms): with the push; and with the push suppressed,
//      found by the background check (link.check_interval shortened to
//      CHECK_INTERVAL seconds for the run; the default is 3600; 停止授权 at a
//      random point of the check cycle), or at the next use (the VerifyLink
//      call that finds it, timed).
//
// Environment: N (200), C (8), REVOKES (20), SWEEP_REVOKES (5),
// CHECK_INTERVAL (4), BINDERY_BIN (build/release/bindery).
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import {
  COMPONENT, startStack, WebClient, newApp, linkApp, startScanLogin, completeAuthorization,
  linksOf, sqlCount, sleep, waitFor,
} from '../../tests/e2e/lib/stack.mjs';

const N = Number(process.env.N || 200);
const C = Number(process.env.C || 8);
const REVOKES = Number(process.env.REVOKES || 20);
const SWEEP_REVOKES = Number(process.env.SWEEP_REVOKES || 5);
const CHECK_INTERVAL = Number(process.env.CHECK_INTERVAL || 4);
const PW = 'a bench password 1';

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, min: s[0], p50: q(0.5), p95: q(0.95), max: s[s.length - 1], mean };
}

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const line = (name, st, unit = 'ms') => console.log(
  `  ${name.padEnd(44)} n=${st.n}  p50 ${fmt(st.p50)} ${unit}  p95 ${fmt(st.p95)} ${unit}  max ${fmt(st.max)} ${unit}  mean ${fmt(st.mean)} ${unit}`);

async function pool(items, width, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

// Completes prepared redirects C at a time; returns completions/s and latencies.
async function completeAll(prepared) {
  const lat = [];
  let failed = 0;
  const t0 = performance.now();
  await pool(prepared, C, async ({ web, flow }) => {
    const t = performance.now();
    const r = await completeAuthorization(web, flow);
    lat.push(performance.now() - t);
    if (!r.resp || !r.resp.SignedIn) failed += 1;
  });
  const secs = (performance.now() - t0) / 1000;
  return { rate: prepared.length / secs, secs, lat: stats(lat), failed };
}

async function prepare(stack, apps) {
  const out = [];
  for (const app of apps) {
    const web = new WebClient(stack.url);
    const flow = await startScanLogin(stack, web, app);
    if (flow.error) throw new Error(JSON.stringify(flow.error));
    out.push({ web, flow, app });
  }
  return out;
}

async function benchLogins(stack) {
  console.log(`scan-to-log-in completions (redirect → session), N=${N}, ${C} at a time`);
  // login: one linked app, N attempts through WeChat's already-authorized path
  const owner = new WebClient(stack.url);
  await owner.signup(`bench.${Date.now()}@example.com`, PW);
  const app = await newApp(stack.ctl, { kind: 'oa' });
  const l = await linkApp(stack, owner, app);
  if (l.error) throw new Error(JSON.stringify(l.error));
  const login = await completeAll(await prepare(stack, Array(N).fill(app)));
  console.log(`  login (linked app, code exchanged)           ${fmt(login.rate)} /s  (${login.failed} failed)`);
  line('  latency', login.lat);

  // register: unknown apps, no push
  await stack.ctl.faults({ drop_pushes: true });
  const fresh = [];
  for (let i = 0; i < N; i++) fresh.push(await newApp(stack.ctl, { kind: 'mp' }));
  const reg = await completeAll(await prepare(stack, fresh));
  await stack.ctl.faults({ drop_pushes: false });
  console.log(`  register (new app, code exchanged, no push)  ${fmt(reg.rate)} /s  (${reg.failed} failed)`);
  line('  latency', reg.lat);

  // pushed: unknown apps, the push applied first
  const more = [];
  for (let i = 0; i < N; i++) more.push(await newApp(stack.ctl, { kind: 'mp' }));
  const prepared = await prepare(stack, more);
  const ids = more.map((a) => `'${a.appid}'`).join(',');
  await waitFor(() => sqlCount(stack.srv,
    `SELECT COUNT(*) FROM wechat_events WHERE state = 'done' AND authorizer_appid IN (${ids})`) >= N,
  { timeout: 120000, what: 'the pushes to be applied' });
  const pushed = await completeAll(prepared);
  console.log(`  pushed (push applied before the redirect)    ${fmt(pushed.rate)} /s  (${pushed.failed} failed)`);
  line('  latency', pushed.lat);
  return { login, reg, pushed };
}

// Links a fresh app for web, waits `before` ms, and stops its authorization
// on the mp page (logged in first); returns ms from sending the 停止授权 POST
// until ListLinks shows the link revoked.
async function revokeLatency(stack, web, timeout, before = 50) {
  const app = await newApp(stack.ctl, { kind: 'oa' });
  const r = await linkApp(stack, web, app);
  if (r.error) throw new Error(JSON.stringify(r.error));
  await sleep(before);
  const login = await stack.ctl.form('/__emu/mp/login', [['wxuser', app.wxid], ['appid', app.appid]]);
  if (login.status !== 303) throw new Error(`mp login: ${login.status}`);
  const t0 = performance.now();
  const stop = await stack.ctl.form('/__emu/mp/thirdparty/revoke',
    [['appid', app.appid], ['component_appid', COMPONENT.component_appid]], { cookie: login.cookie });
  if (stop.status !== 303) throw new Error(`mp page: ${stop.status}`);
  await waitFor(async () => (await linksOf(web))[app.appid].State === 'revoked',
    { timeout, interval: 10, what: 'revoked' });
  return performance.now() - t0;
}

async function benchRevocation() {
  const S = await startStack({ name: 'bench_revoke', env: { BINDERY_LINK_MAX_PER_ACCOUNT: '1000' } });
  try {
    const web = new WebClient(S.url);
    await web.signup(`revoke.${Date.now()}@example.com`, PW);
    const pushed = [];
    for (let i = 0; i < REVOKES; i++) pushed.push(await revokeLatency(S, web, 5000));
    console.log('time from 停止授权 to revoked');
    line('with the unauthorized push', stats(pushed));
  } finally {
    await S.stop();
  }
  const T = await startStack({
    name: 'bench_sweep',
    env: { BINDERY_LINK_CHECK_INTERVAL: String(CHECK_INTERVAL), BINDERY_LINK_MAX_PER_ACCOUNT: '1000' },
  });
  try {
    await T.ctl.pushes({ unauthorized: 'suppress' });
    const web = new WebClient(T.url);
    await web.signup(`sweep.${Date.now()}@example.com`, PW);
    const swept = [];
    // 停止授权 at a random point of the link's check cycle
    for (let i = 0; i < SWEEP_REVOKES; i++) {
      swept.push(await revokeLatency(T, web, (CHECK_INTERVAL + 5) * 1000, Math.random() * CHECK_INTERVAL * 1000));
    }
    line(`push suppressed, background check (${CHECK_INTERVAL} s)`, stats(swept));
    // at the next use: 停止授权, then VerifyLink (a token refresh) finds it
    const used = [];
    for (let i = 0; i < SWEEP_REVOKES; i++) {
      const app = await newApp(T.ctl, { kind: 'oa' });
      if ((await linkApp(T, web, app)).error) throw new Error('link failed');
      await T.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
      const t0 = performance.now();
      const v = await web.call('VerifyLink', { AuthorizerAppId: app.appid });
      if (!v.error || v.error.Code !== 'FailedOperation.WechatAuthorizationRevoked') throw new Error(JSON.stringify(v.body));
      used.push(performance.now() - t0);
    }
    line('push suppressed, at the next use (VerifyLink)', stats(used));
    console.log('  (with the default link.check_interval of 3600 s the background check finds it within');
    console.log('   one interval, ~1 h; the next use of the link finds it at once, as above)');
  } finally {
    await T.stop();
  }
}

console.log(`bindery links bench: ${os.cpus().length} × ${os.cpus()[0].model}, node ${process.version}`);
// Every start comes from 127.0.0.1: lift the per-address start limit.
const S = await startStack({ name: 'bench_links', env: { BINDERY_LINK_MAX_LOGIN_STARTS: '1000000' } });
try {
  await benchLogins(S);
} finally {
  await S.stop();
}
await benchRevocation();
