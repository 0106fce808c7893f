// Several stateless instances on one PostgreSQL database, and what happens
// when the database goes away. Runs when the suite runs on PostgreSQL
// (BINDERY_E2E_PG_URL); skipped with a reason on SQLite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import tencentcloud from 'tencentcloud-sdk-nodejs';
import { startServer, ConsoleClient } from './lib/harness.mjs';

const pgBase = process.env.BINDERY_E2E_PG_URL;
const skip = pgBase ? false : 'runs on PostgreSQL only (BINDERY_E2E_PG_URL is not set)';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pgCluster = join(root, 'scripts', 'pg-cluster.sh');

function createDb(base) {
  const db = `scaleout_${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync('psql', [base, '-qAtc', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const url = new URL(base);
  url.pathname = `/${db}`;
  return url.toString();
}

let shared, a, b, keyDir;
before(async () => {
  if (skip) return;
  keyDir = await mkdtemp(join(tmpdir(), 'bindery-key-'));
  shared = { BINDERY_STORE: createDb(pgBase), BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key') };
  a = await startServer({ name: 'a', env: shared });
  b = await startServer({ name: 'b', env: shared });
});
after(async () => {
  if (skip) return;
  await a.stop();
  await b.stop();
  await rm(keyDir, { recursive: true, force: true });
});

test('a login on one instance is a valid session on the other', { skip }, async () => {
  const onA = new ConsoleClient(a.url);
  const signup = await onA.signup('multi@example.com', 'multi password 1');
  const uin = signup.body.Response.Uin;
  const onB = new ConsoleClient(b.url);
  onB.cookie = onA.cookie;
  onB.csrf = onA.csrf;
  assert.equal((await onB.session()).Response.Uin, uin);
  // state-changing request on B with A's CSRF token
  assert.equal((await onB.call('GetUserAppId')).body.Response.Uin, uin);
  assert.equal((await onB.logout()).body.Response.Error, undefined);
  assert.equal((await onA.session()).Response.Error.Code, 'AuthFailure.SessionInvalid');
});

test('an API key created through one instance signs requests on the other', { skip }, async () => {
  const onA = new ConsoleClient(a.url);
  const signup = await onA.signup('keys@example.com', 'keys password 1');
  const created = await onA.call('CreateAccessKey', {});
  const { AccessKeyId, SecretAccessKey } = created.body.Response.AccessKey;
  const cam = new tencentcloud.cam.v20190116.Client({
    credential: { secretId: AccessKeyId, secretKey: SecretAccessKey }, region: '',
    profile: { httpProfile: { endpoint: `127.0.0.1:${b.port}`, protocol: 'http://', reqTimeout: 10 } },
  });
  assert.equal((await cam.GetUserAppId({})).Uin, signup.body.Response.Uin);
});

test('login throttling counts failures across instances', { skip }, async () => {
  const c = new ConsoleClient(a.url);
  await c.signup('shared-throttle@example.com', 'shared password 1');
  for (let i = 0; i < 5; i++) {
    const target = new ConsoleClient(i % 2 ? a.url : b.url);
    const r = await target.login('shared-throttle@example.com', `wrong password ${i}`);
    assert.equal(r.body.Response.Error.Code, 'FailedOperation.LoginFailed');
  }
  const r = await new ConsoleClient(b.url).login('shared-throttle@example.com', 'shared password 1');
  assert.equal(r.body.Response.Error.Code, 'RequestLimitExceeded.LoginThrottled');
});

test('PostgreSQL stopped mid-test: clear errors, no crash, recovery on restart', { skip, timeout: 120000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bindery-pgkill-'));
  const start = spawnSync(pgCluster, ['start', dir], { encoding: 'utf8' });
  assert.equal(start.status, 0, start.stderr);
  const url = start.stdout.trim().split('\n').pop();
  const own = await startServer({ name: 'kill', env: { BINDERY_STORE: url } });
  try {
    const c = new ConsoleClient(own.url);
    await c.signup('survivor@example.com', 'survivor password 1');
    assert.equal((await fetch(`${own.url}/healthz`)).status, 200);

    assert.equal(spawnSync(pgCluster, ['stop', dir]).status, 0);
    const health = await fetch(`${own.url}/healthz`);
    assert.equal(health.status, 503);
    assert.equal((await health.json()).store, 'unavailable');
    const s = await c.session();
    assert.equal(s.Response.Error.Code, 'InternalError.StoreUnavailable');
    const login = await new ConsoleClient(own.url).login('survivor@example.com', 'survivor password 1');
    assert.match(login.body.Response.Error.Code, /^InternalError/);
    assert.equal(own.proc.exitCode, null, 'the server is still running');

    assert.equal(spawnSync(pgCluster, ['start', dir], { encoding: 'utf8' }).status, 0);
    let healthy = false;
    for (let i = 0; i < 50 && !healthy; i++) {
      healthy = (await fetch(`${own.url}/healthz`)).status === 200;
      if (!healthy) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(healthy, 'healthz recovers');
    // The first use of each pooled connection may still find it broken;
    // it is replaced, so a user's next try succeeds.
    let session;
    for (let i = 0; i < 10; i++) {
      session = await c.session();
      if (session.Response.Uin) break;
    }
    assert.match(session.Response.Uin, /^\d{12}$/);
  } finally {
    await own.stop();
    spawnSync(pgCluster, ['stop', dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
