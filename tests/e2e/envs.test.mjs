// One-click environments (一键开通) and incremental, content-addressed
// uploads into immutable versions (issue 7 §3–4, docs/environments.md), over
// the TC3-signed API against `bindery serve` wired to the WeChat emulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, hkdfSync, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from './lib/tc3.mjs';
import {
  COMPONENT, startStack, startPeer, WebClient, newApp, linkApp, linksOf, sql, sqlCount, waitFor, sleep,
} from './lib/stack.mjs';

const PW = 'an envs password 1';
let S;
let seq = 0;
const email = () => `envs${++seq}.${Date.now()}@example.com`;
const sha = (b) => createHash('sha256').update(b).digest('hex');

before(async () => { S = await startStack({ name: 'envs' }); });
after(async () => { if (S) assert.equal(await S.stop(), 0); });

// A signed-up account with `apps` linked mini programs and an API key.
async function owner(stack = S, apps = 1) {
  const web = new WebClient(stack.url);
  const r = await web.signup(email(), PW);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  const linked = [];
  for (let i = 0; i < apps; i++) {
    const app = await newApp(stack.ctl, { kind: 'mp' });
    const l = await linkApp(stack, web, app);
    assert.equal(l.error, undefined, JSON.stringify(l.body));
    linked.push(app);
  }
  const key = await stack.srv.adminCreateAccessKey(r.resp.Uin);
  const call = async (action, params = {}, base = stack.url) => {
    const res = await callApi(base, {
      action, version: '2026-11-01', params, secretId: key.SecretId, secretKey: key.SecretKey,
    });
    return res.body.Response;
  };
  return { web, uin: r.resp.Uin, apps: linked, call, key };
}

async function readyEnv(o, appid, extra = {}) {
  const c = await o.call('CreateEnvironment', { AppId: appid, ...extra });
  assert.equal(c.Error, undefined, JSON.stringify(c));
  let env = c.Environment;
  while (env.State === 'PROVISIONING') {
    const d = await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: env.StateSeq, WaitSeconds: 10 });
    assert.equal(d.Error, undefined, JSON.stringify(d));
    env = d.Environment;
  }
  return env;
}

// ---- environments ---------------------------------------------------------

test('一键开通: an active link gets an env, READY through the long-poll, with its steps, port and dirs', async () => {
  const o = await owner();
  const t0 = Date.now();
  const c = await o.call('CreateEnvironment', { AppId: o.apps[0].appid, Name: 'web', ClientToken: 'tok-1' });
  assert.equal(c.Error, undefined, JSON.stringify(c));
  assert.match(c.EnvId, /^web-[a-z2-7]{6}$/);
  assert.equal(c.Created, true);
  assert.equal(c.Environment.State, 'PROVISIONING');
  const d = await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: c.Environment.StateSeq, WaitSeconds: 10 });
  assert.equal(d.Environment.State, 'READY', JSON.stringify(d));
  assert.ok(Date.now() - t0 < 5000, 'the long-poll returns as soon as the env is READY');
  assert.ok(d.Environment.StateSeq > c.Environment.StateSeq);
  assert.ok(d.Environment.Port >= 20000 && d.Environment.Port <= 29999);
  assert.deepEqual(d.Environment.Steps.map((s) => [s.Step, s.State, s.Attempts]),
    [['create_dirs', 'done', 1], ['allocate_port', 'done', 1], ['write_config', 'done', 1], ['mark_ready', 'done', 1]]);
  const cfg = JSON.parse(readFileSync(join(S.srv.dataDir, 'envs', c.EnvId, 'runtime.json'), 'utf8'));
  assert.equal(cfg.EnvId, c.EnvId);
  assert.equal(cfg.Port, d.Environment.Port);
  assert.equal(cfg.AppId, o.apps[0].appid);
  // a long-poll with nothing new waits its bound, then answers the same state
  const w0 = Date.now();
  const idle = await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: d.Environment.StateSeq, WaitSeconds: 1 });
  assert.equal(idle.Environment.StateSeq, d.Environment.StateSeq);
  assert.ok(Date.now() - w0 >= 900);
  const list = await o.call('DescribeEnvironments', { AppId: o.apps[0].appid });
  assert.equal(list.TotalCount, 1);
  assert.equal(list.Environments[0].EnvId, c.EnvId);
  // the action is audited
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM audit_log WHERE action = 'deploy:CreateEnvironment' AND detail LIKE '${c.EnvId}%'`), 1);
});

test('idempotent retry, quota per app, ClientToken of another app, bad names', async () => {
  const o = await owner(S, 2);
  const [a, b] = o.apps.map((x) => x.appid);
  const first = await o.call('CreateEnvironment', { AppId: a, ClientToken: 'same' });
  const again = await o.call('CreateEnvironment', { AppId: a, ClientToken: 'same' });
  assert.equal(again.EnvId, first.EnvId);
  assert.equal(again.Created, false);
  const other = await o.call('CreateEnvironment', { AppId: b, ClientToken: 'same' });
  assert.equal(other.Error.Code, 'InvalidParameterValue');
  assert.ok((await o.call('CreateEnvironment', { AppId: a })).EnvId);
  const third = await o.call('CreateEnvironment', { AppId: a });
  assert.equal(third.Error.Code, 'LimitExceeded.Environment');
  assert.match(third.Error.Message, /2 environments/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM envs WHERE appid = '${a}'`), 2);
  // the other app has its own quota
  assert.ok((await o.call('CreateEnvironment', { AppId: b })).EnvId);
  for (const Name of ['Bad', '1x', 'a_b', 'x-', 'a'.repeat(21)]) {
    const r = await o.call('CreateEnvironment', { AppId: b, Name });
    assert.equal(r.Error.Code, 'InvalidParameterValue', Name);
  }
  // concurrent creations cannot exceed the quota
  const c = await owner();
  const app = c.apps[0].appid;
  const rs = await Promise.all([1, 2, 3, 4, 5].map(() => c.call('CreateEnvironment', { AppId: app })));
  assert.equal(rs.filter((r) => r.EnvId).length, 2, JSON.stringify(rs));
  assert.equal(rs.filter((r) => r.Error && r.Error.Code === 'LimitExceeded.Environment').length, 3);
});

test('a revoked link refuses with the re-authorize hint; an unknown or another account\'s app is refused', async () => {
  const o = await owner();
  const app = o.apps[0];
  await S.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
  await waitFor(async () => ((await linksOf(o.web))[app.appid] || {}).State === 'revoked', { what: 'revoked' });
  const r = await o.call('CreateEnvironment', { AppId: app.appid });
  assert.equal(r.Error.Code, 'FailedOperation.WechatAuthorizationRevoked');
  assert.match(r.Error.Message, /re-authorize/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM envs WHERE appid = '${app.appid}'`), 0);
  const unknown = await o.call('CreateEnvironment', { AppId: 'wxunknown00000001' });
  assert.equal(unknown.Error.Code, 'ResourceNotFound.WechatLink');
  const stranger = await owner();
  const theirs = await o.call('CreateEnvironment', { AppId: stranger.apps[0].appid });
  assert.equal(theirs.Error.Code, 'ResourceNotFound.WechatLink');
  // nor can anyone see or delete another account's environment
  const env = await readyEnv(stranger, stranger.apps[0].appid);
  assert.equal((await o.call('DescribeEnvironment', { EnvId: env.EnvId })).Error.Code, 'ResourceNotFound.Environment');
  assert.equal((await o.call('DeleteEnvironment', { EnvId: env.EnvId })).Error.Code, 'ResourceNotFound.Environment');
});

test('a link revoked after 一键开通 blocks uploads and deploys with the re-authorize hint', async () => {
  const o = await owner();
  const app = o.apps[0];
  const env = await readyEnv(o, app.appid);
  await S.ctl.stopAuthorization(app.wxid, app.appid, COMPONENT.component_appid);
  await waitFor(async () => ((await linksOf(o.web))[app.appid] || {}).State === 'revoked', { what: 'revoked' });
  const body = Buffer.from('console.log(1)\n');
  const up = await o.call('CreateUpload', {
    EnvId: env.EnvId, Files: [{ Path: 'app.js', Sha256: sha(body), Size: body.length, Mode: 420 }],
  });
  assert.equal(up.Error.Code, 'FailedOperation.WechatAuthorizationRevoked');
  assert.match(up.Error.Message, /re-authorize/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${env.EnvId}'`), 0);
  for (const action of ['CreateDeploy', 'RestartEnvironment', 'RollbackEnvironment']) {
    const d = await o.call(action, { EnvId: env.EnvId });
    assert.equal(d.Error.Code, 'FailedOperation.WechatAuthorizationRevoked', `${action}: ${JSON.stringify(d)}`);
  }
});

test('a sub-user without deploy permission is refused; with QcloudBinderyDeployFullAccess it may', async () => {
  const o = await owner();
  const env = await readyEnv(o, o.apps[0].appid);
  const camCall = async (action, params, key = o.key) => (await callApi(S.url, {
    action, version: '2019-01-16', params, secretId: key.SecretId, secretKey: key.SecretKey,
  })).body.Response;
  const u = await camCall('AddUser', { Name: 'deployer', UseApi: 1 });
  assert.equal(u.Error, undefined, JSON.stringify(u));
  const asSub = async (action, params = {}) => (await callApi(S.url, {
    action, version: '2026-11-01', params, secretId: u.SecretId, secretKey: u.SecretKey,
  })).body.Response;
  for (const [action, params] of [['DescribeEnvironments', {}], ['CreateEnvironment', { AppId: o.apps[0].appid }],
    ['CreateUpload', { EnvId: env.EnvId, Files: [] }], ['CreateDeploy', { EnvId: env.EnvId }]]) {
    const r = await asSub(action, params);
    assert.equal(r.Error && r.Error.Code, 'AuthFailure.UnauthorizedOperation', `${action}: ${JSON.stringify(r)}`);
    assert.match(r.Error.Message, new RegExp(`deploy:${action}`));
  }
  const att = await camCall('AttachUserPolicy', { PolicyId: 8, AttachUin: u.Uin });
  assert.equal(att.Error, undefined, JSON.stringify(att));
  const list = await asSub('DescribeEnvironments');
  assert.equal(list.Error, undefined, JSON.stringify(list));
  assert.deepEqual(list.Environments.map((e) => e.EnvId), [env.EnvId]);
});

test('long-polls hold no HTTP worker: with one worker thread, calls answer while three long-polls wait', async () => {
  const T = await startStack({ name: 'envs_polls', env: { BINDERY_HTTP_THREADS: '1' } });
  try {
    const o = await owner(T);
    const env = await readyEnv(o, o.apps[0].appid);
    let pending = 3;
    const polls = [1, 2, 3].map(() => o.call('DescribeEnvironment', {
      EnvId: env.EnvId, WaitSeq: env.StateSeq, WaitSeconds: 4,
    }).then((r) => { pending -= 1; return r; }));
    await sleep(300); // the three are waiting on the server now
    const quick = await o.call('DescribeEnvironments', {});
    assert.equal(quick.Error, undefined, JSON.stringify(quick));
    assert.equal(pending, 3, 'a quick call answered while every long-poll still waited');
    for (const r of await Promise.all(polls)) {
      assert.equal(r.Error, undefined, JSON.stringify(r));
      assert.equal(r.Environment.StateSeq, env.StateSeq); // nothing changed: the wait ran out
    }
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

// CI keys (issue 7 §1): a sub-user with API access only and a policy on one
// environment's deploy:* actions; its key is shown once, revocable, and
// reaches nothing else.
test('a CI key: deploy actions on one named environment, nothing else; revoked at once', async () => {
  const o = await owner(S, 2);
  const a = await readyEnv(o, o.apps[0].appid);
  const b = await readyEnv(o, o.apps[1].appid);
  const camCall = async (action, params, key = o.key) => (await callApi(S.url, {
    action, version: '2019-01-16', params, secretId: key.SecretId, secretKey: key.SecretKey,
  })).body.Response;
  const doc = JSON.stringify({ version: '2.0', statement: [{
    effect: 'allow', action: ['name/deploy:*'], resource: [`qcs::deploy::uin/${o.uin}:env/${a.EnvId}`],
  }] });
  const pol = await camCall('CreatePolicy', { PolicyName: 'ci-deploy-a', PolicyDocument: doc });
  assert.equal(pol.Error, undefined, JSON.stringify(pol));
  const ci = await camCall('AddUser', { Name: 'ci', UseApi: 1, ConsoleLogin: 0 });
  assert.equal(ci.Error, undefined, JSON.stringify(ci));
  assert.equal((await camCall('AttachUserPolicy', { PolicyId: pol.PolicyId, AttachUin: ci.Uin })).Error, undefined);
  const asCi = async (action, params) => (await callApi(S.url, {
    action, version: '2026-11-01', params, secretId: ci.SecretId, secretKey: ci.SecretKey,
  })).body.Response;
  const body = Buffer.from('console.log(1)\n');
  const files = [{ Path: 'app.js', Sha256: sha(body), Size: body.length, Mode: 420 }];
  const onA = await asCi('CreateUpload', { EnvId: a.EnvId, Files: files });
  assert.equal(onA.Error, undefined, JSON.stringify(onA));
  const onB = await asCi('CreateUpload', { EnvId: b.EnvId, Files: files });
  assert.equal(onB.Error.Code, 'AuthFailure.UnauthorizedOperation');
  assert.equal((await asCi('DescribeEnvironment', { EnvId: b.EnvId })).Error.Code, 'AuthFailure.UnauthorizedOperation');
  assert.equal((await asCi('CreateEnvironment', { AppId: o.apps[0].appid })).Error.Code, 'AuthFailure.UnauthorizedOperation');
  assert.equal((await asCi('CreateConsoleLoginUrl', { Page: '/account' })).Error.Code, 'AuthFailure.UnauthorizedOperation');
  // revoked: the key stops at once
  const off = await camCall('UpdateAccessKey', { AccessKeyId: ci.SecretId, Status: 'Inactive', TargetUin: ci.Uin });
  assert.equal(off.Error, undefined, JSON.stringify(off));
  assert.equal((await asCi('DescribeEnvironment', { EnvId: a.EnvId })).Error.Code, 'AuthFailure.SecretIdNotFound');
});

test('DeleteEnvironment removes the env, its directory and its versions; the quota is free again', async () => {
  const o = await owner();
  const appid = o.apps[0].appid;
  const env = await readyEnv(o, appid);
  await uploadTree(o, env.EnvId, { 'app.js': 'x' });
  const dir = join(S.srv.dataDir, 'envs', env.EnvId);
  assert.ok(existsSync(dir));
  const d = await o.call('DeleteEnvironment', { EnvId: env.EnvId });
  assert.equal(d.State, 'DELETED', JSON.stringify(d));
  assert.ok(!existsSync(dir));
  assert.equal((await o.call('DescribeEnvironment', { EnvId: env.EnvId })).Error.Code, 'ResourceNotFound.Environment');
  assert.equal((await o.call('DeleteEnvironment', { EnvId: env.EnvId })).Error.Code, 'ResourceNotFound.Environment');
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM versions WHERE env_id = '${env.EnvId}'`), 0);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM version_files WHERE env_id = '${env.EnvId}'`), 0);
  await readyEnv(o, appid);
  await readyEnv(o, appid);
});

test('a failed step is compensated in reverse; a retry with the same ClientToken resumes', async () => {
  const T = await startStack({ name: 'envs_ports', env: { BINDERY_DEPLOY_PORT_MIN: '23456', BINDERY_DEPLOY_PORT_MAX: '23456' } });
  try {
    const o = await owner(T, 2);
    const first = await readyEnv(o, o.apps[0].appid);
    assert.equal(first.Port, 23456);
    const c = await o.call('CreateEnvironment', { AppId: o.apps[1].appid, ClientToken: 'retry-me' });
    let env = c.Environment;
    while (env.State === 'PROVISIONING') {
      env = (await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: env.StateSeq, WaitSeconds: 10 })).Environment;
    }
    assert.equal(env.State, 'FAILED');
    assert.equal(env.ErrorCode, 'FailedOperation.ProvisioningFailed');
    assert.match(env.ErrorMessage, /allocate_port: no free port.*23456-23456/);
    const steps = Object.fromEntries(env.Steps.map((s) => [s.Step, s.State]));
    assert.deepEqual(steps, { create_dirs: 'compensated', allocate_port: 'failed', write_config: 'pending', mark_ready: 'pending' });
    assert.ok(!existsSync(join(T.srv.dataDir, 'envs', c.EnvId)), 'the directories were removed');
    // free the port, then resume with the same token: the same env becomes READY
    assert.equal((await o.call('DeleteEnvironment', { EnvId: first.EnvId })).State, 'DELETED');
    const again = await o.call('CreateEnvironment', { AppId: o.apps[1].appid, ClientToken: 'retry-me' });
    assert.equal(again.EnvId, c.EnvId);
    assert.equal(again.Created, false);
    env = again.Environment;
    assert.equal(env.State, 'PROVISIONING');
    while (env.State === 'PROVISIONING') {
      env = (await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: env.StateSeq, WaitSeconds: 10 })).Environment;
    }
    assert.equal(env.State, 'READY');
    assert.equal(env.Port, 23456);
    assert.equal(env.Steps.find((s) => s.Step === 'allocate_port').Attempts, 2);
    assert.equal(sqlCount(T.srv, 'SELECT COUNT(*) FROM envs'), 1);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

// ---- uploads ----------------------------------------------------------------

const manifestOf = (tree) => Object.entries(tree).map(([Path, body]) => ({
  Path, Sha256: sha(Buffer.from(body)), Size: Buffer.byteLength(body), Mode: 0o644,
}));

const put = (url, body, headers = {}) => fetch(url, { method: 'PUT', body, headers })
  .then(async (r) => ({ status: r.status, body: await r.json() }));

// Uploads tree ({path: content}) the way a tool does; returns what happened.
async function uploadTree(o, envId, tree, { runtime = 'nodejs', entry = 'app.js' } = {}) {
  const u = await o.call('CreateUpload', { EnvId: envId, Files: manifestOf(tree) });
  assert.equal(u.Error, undefined, JSON.stringify(u));
  const byHash = new Map(Object.values(tree).map((b) => [sha(Buffer.from(b)), b]));
  for (const m of u.MissingBlobs) {
    const r = await put(m.Url, Buffer.from(byHash.get(m.Sha256)));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const c = await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: runtime, Entry: entry });
  assert.equal(c.Error, undefined, JSON.stringify(c));
  return { sent: u.MissingBlobs.length, version: c.Version, upload: u };
}

test('upload: only missing blobs are asked for, wrong bytes refused, commit needs every blob, versions N+1 with deletes', async () => {
  const o = await owner();
  const env = await readyEnv(o, o.apps[0].appid);
  const tree = { 'app.js': 'console.log(1)\n', 'lib/a.js': 'same', 'lib/b.js': 'same', 'package.json': '{}' };
  const u = await o.call('CreateUpload', { EnvId: env.EnvId, Files: manifestOf(tree), Description: 'first' });
  assert.equal(u.Error, undefined, JSON.stringify(u));
  assert.equal(u.FileCount, 4);
  assert.equal(u.MissingBlobs.length, 3, 'identical files are one blob');
  for (const m of u.MissingBlobs) assert.ok(m.Url.includes(`/v1/uploads/${u.UploadId}/blobs/${m.Sha256}?`));
  // wrong bytes, too long, too short: refused, nothing stored
  const m0 = u.MissingBlobs.find((m) => m.Path === 'app.js');
  const wrong = await put(m0.Url, Buffer.from('console.log(2)\n'));
  assert.equal(wrong.status, 422);
  assert.equal(wrong.body.Response.Error.Code, 'InvalidParameter.DigestMismatch');
  const longer = await put(m0.Url, Buffer.from('console.log(1)\nmore'));
  assert.equal(longer.body.Response.Error.Code, 'InvalidParameter.DigestMismatch');
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM blobs WHERE sha256 = '${m0.Sha256}'`), 0);
  assert.ok(!existsSync(join(S.srv.dataDir, 'objects', 'sha256', m0.Sha256.slice(0, 2), m0.Sha256.slice(2, 4), m0.Sha256)));
  // commit with a blob missing names it
  const early = await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'app.js' });
  assert.equal(early.Error.Code, 'FailedOperation.BlobsMissing');
  assert.match(early.Error.Message, /app\.js/);
  for (const m of u.MissingBlobs) {
    const r = await put(m.Url, Buffer.from(tree[m.Path]));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.Response.Sha256, m.Sha256);
  }
  const blob = join(S.srv.dataDir, 'objects', 'sha256', m0.Sha256.slice(0, 2), m0.Sha256.slice(2, 4), m0.Sha256);
  assert.equal(readFileSync(blob, 'utf8'), tree['app.js']);
  // an entry that is not in the upload, a bad runtime
  assert.equal((await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'main.js' })).Error.Code, 'InvalidParameter.Manifest');
  assert.equal((await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'php', Entry: 'app.js' })).Error.Code, 'InvalidParameterValue');
  const c1 = await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'app.js' });
  assert.equal(c1.Version, 1, JSON.stringify(c1));
  assert.equal((await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'app.js' })).Error.Code, 'FailedOperation.UploadCommitted');
  // the URL of a committed upload is closed
  assert.equal((await put(m0.Url, Buffer.from(tree['app.js']))).body.Response.Error.Code, 'FailedOperation.UploadCommitted');

  // the same tree again: nothing to send, version 2
  const second = await uploadTree(o, env.EnvId, tree);
  assert.equal(second.sent, 0);
  assert.equal(second.version, 2);
  // one file changed, one deleted: one blob, version 3 without the deleted file
  const tree3 = { ...tree, 'app.js': 'console.log(3)\n' };
  delete tree3['lib/b.js'];
  const third = await uploadTree(o, env.EnvId, tree3, { runtime: 'exec', entry: './app.js --port 1' });
  assert.equal(third.sent, 1);
  assert.equal(third.version, 3);
  const v3 = await o.call('DescribeVersion', { EnvId: env.EnvId, Version: 3 });
  assert.deepEqual(v3.Version.Files.map((f) => f.Path), ['app.js', 'lib/a.js', 'package.json']);
  assert.equal(v3.Version.Runtime, 'exec');
  assert.equal(v3.Version.CreatedBy, String(o.uin));
  const v1 = await o.call('DescribeVersion', { EnvId: env.EnvId, Version: 1 });
  assert.equal(v1.Version.Description, 'first');
  assert.equal(v1.Version.Files.length, 4, 'an older version is unchanged');
  const newest = await o.call('DescribeVersion', { EnvId: env.EnvId });
  assert.equal(newest.Version.Version, 3);
  const list = await o.call('DescribeVersions', { EnvId: env.EnvId, Limit: 2 });
  assert.equal(list.TotalCount, 3);
  assert.deepEqual(list.Versions.map((v) => v.Version), [3, 2]);
  assert.equal((await o.call('DescribeVersion', { EnvId: env.EnvId, Version: 9 })).Error.Code, 'ResourceNotFound.Version');
  const e = await o.call('DescribeEnvironment', { EnvId: env.EnvId });
  assert.equal(e.Environment.LatestVersion, 3);
});

test('concurrent commits number versions without gaps', async () => {
  const o = await owner();
  const env = await readyEnv(o, o.apps[0].appid);
  await uploadTree(o, env.EnvId, { 'app.js': 'base' });
  const ups = await Promise.all([1, 2, 3, 4].map(() => o.call('CreateUpload', { EnvId: env.EnvId, Files: manifestOf({ 'app.js': 'base' }) })));
  const cs = await Promise.all(ups.map((u) => o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'app.js' })));
  assert.deepEqual(cs.map((c) => c.Version).sort(), [2, 3, 4, 5], JSON.stringify(cs));
});

test('manifest attacks are refused, each with a clear error', async () => {
  const o = await owner();
  const env = await readyEnv(o, o.apps[0].appid);
  const f = (Path, extra = {}) => ({ Path, Sha256: sha('x'), Size: 1, Mode: 0o644, ...extra });
  const cases = [
    [[f('../x')], 'InvalidParameter.Manifest', /'\.' or '\.\.'/],
    [[f('a/../../x')], 'InvalidParameter.Manifest', /'\.\.'/],
    [[f('/etc/passwd')], 'InvalidParameter.Manifest', /absolute/],
    // JSON with a NUL is refused by the body parser itself, before the manifest
    [[f('a\u0000b')], 'InvalidParameter', /\\u0000 is not allowed/],
    [[f('a\nb')], 'InvalidParameter.Manifest', /control/],
    [[f('a//b')], 'InvalidParameter.Manifest', /empty component/],
    [[f('a\\b')], 'InvalidParameter.Manifest', /backslash/],
    [[f('x'), f('x')], 'InvalidParameter.Manifest', /twice/],
    [[f('a'), f('a/b')], 'InvalidParameter.Manifest', /both a file and the directory/],
    [[f('a', { Sha256: 'zz' })], 'InvalidParameter.Manifest', /64 hex/],
    [[f('a', { Size: -1 })], 'InvalidParameter.Manifest', /Size/],
    [[f('a', { Mode: 0o120777 })], 'InvalidParameter.Manifest', /regular file/],
    [[f('a', { Mode: 0o4755 })], 'InvalidParameter.Manifest', /set-id/],
    [[f('a', { Size: 200 * 1024 * 1024 })], 'LimitExceeded.Manifest', /bytes/],
    [[f('a', { Size: 100 * 1024 * 1024 }), f('b', { Size: 100 * 1024 * 1024 }), f('c', { Size: 100 * 1024 * 1024 }),
      f('d', { Size: 100 * 1024 * 1024 }), f('e', { Size: 100 * 1024 * 1024 }), f('g', { Size: 100 * 1024 * 1024 })],
    'LimitExceeded.Manifest', /add up/],
    [[f('x'.repeat(1025))], 'InvalidParameter.Manifest', /1024/],
    [[f(`${'y'.repeat(256)}/z`)], 'InvalidParameter.Manifest', /255/],
    [[f('a', { Extra: 1 })], 'InvalidParameter.Manifest', /not a field/],
    [[], 'InvalidParameter.Manifest', /no file/],
  ];
  for (const [Files, code, msg] of cases) {
    const r = await o.call('CreateUpload', { EnvId: env.EnvId, Files });
    assert.ok(r.Error, `${JSON.stringify(Files).slice(0, 80)} was accepted`);
    assert.equal(r.Error.Code, code, `${JSON.stringify(Files).slice(0, 80)}: ${r.Error.Message}`);
    assert.match(r.Error.Message, msg);
  }
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${env.EnvId}'`), 0);
});

test('too many files: refused against deploy.max_files', async () => {
  const T = await startStack({ name: 'envs_limits', env: { BINDERY_DEPLOY_MAX_FILES: '100' } });
  try {
    const o = await owner(T);
    const env = await readyEnv(o, o.apps[0].appid);
    const files = Array.from({ length: 101 }, (_, i) => ({ Path: `f${i}`, Sha256: sha(String(i)), Size: 1, Mode: 0o644 }));
    const r = await o.call('CreateUpload', { EnvId: env.EnvId, Files: files });
    assert.equal(r.Error.Code, 'LimitExceeded.Manifest');
    assert.match(r.Error.Message, /101 files \(at most 100\)/);
    assert.equal((await o.call('CreateUpload', { EnvId: env.EnvId, Files: files.slice(0, 100) })).FileCount, 100);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

// The server's upload-URL key, as the keyring derives it (for crafting an
// expired URL that is otherwise valid).
function uploadKey(srv) {
  const master = Buffer.from(readFileSync(join(srv.dataDir, 'master.key'), 'utf8').trim(), 'hex');
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'bindery upload url v1', 32));
}

test('pre-signed URLs: another upload, a tampered or expired signature, a malformed path are refused', async () => {
  const o = await owner();
  const env = await readyEnv(o, o.apps[0].appid);
  const a = await o.call('CreateUpload', { EnvId: env.EnvId, Files: manifestOf({ 'app.js': 'A' }) });
  const b = await o.call('CreateUpload', { EnvId: env.EnvId, Files: manifestOf({ 'app.js': 'B' }) });
  const ua = new URL(a.MissingBlobs[0].Url);
  const ub = new URL(b.MissingBlobs[0].Url);
  // A's signature on B's upload id
  const swapped = new URL(ua);
  swapped.pathname = ua.pathname.replace(a.UploadId, b.UploadId);
  let r = await put(swapped, Buffer.from('A'));
  assert.equal(r.status, 403);
  assert.equal(r.body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  // B's URL for A's bytes: the blob named is B's
  const crossed = new URL(ub);
  crossed.pathname = ub.pathname.replace(b.MissingBlobs[0].Sha256, a.MissingBlobs[0].Sha256);
  assert.equal((await put(crossed, Buffer.from('A'))).body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  const tampered = new URL(ua);
  const s = tampered.searchParams.get('Signature');
  tampered.searchParams.set('Signature', (s[0] === 'a' ? 'b' : 'a') + s.slice(1));
  assert.equal((await put(tampered, Buffer.from('A'))).body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  const later = new URL(ua);
  later.searchParams.set('Expires', String(Number(ua.searchParams.get('Expires')) + 3600));
  assert.equal((await put(later, Buffer.from('A'))).body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  const unsigned = new URL(ua);
  unsigned.search = '';
  assert.equal((await put(unsigned, Buffer.from('A'))).status, 403);
  // correctly signed, but expired
  const expires = Math.floor(Date.now() / 1000) - 5;
  const path = ua.pathname;
  const sig = createHmac('sha256', uploadKey(S.srv)).update(`PUT\n${path}\n${expires}`).digest('hex');
  const old = new URL(ua);
  old.search = `?Expires=${expires}&Signature=${sig}`;
  r = await put(old, Buffer.from('A'));
  assert.equal(r.body.Response.Error.Code, 'AuthFailure.UploadUrlExpired', JSON.stringify(r.body));
  // the same construction with a fresh time works: the check above was the expiry
  const fresh = Math.floor(Date.now() / 1000) + 60;
  const ok = new URL(ua);
  ok.search = `?Expires=${fresh}&Signature=${createHmac('sha256', uploadKey(S.srv)).update(`PUT\n${path}\n${fresh}`).digest('hex')}`;
  assert.equal((await put(ok, Buffer.from('A'))).status, 200);
  const bad = await fetch(`${S.url}/v1/uploads/nonsense/blobs/xyz`, { method: 'PUT', body: 'x' });
  assert.equal(bad.status, 403);
  // a declared length other than the manifest's is refused before reading
  const short = await put(ub, Buffer.from('BB'));
  assert.equal(short.status, 422);
});

test('garbage collection: expired uploads closed; unreferenced blobs removed, referenced ones kept', async () => {
  const T = await startStack({ name: 'envs_gc', env: { BINDERY_DEPLOY_UPLOAD_TTL: '10', BINDERY_DEPLOY_BLOB_GRACE: '0', BINDERY_DEPLOY_GC_INTERVAL: '1' } });
  try {
    const o = await owner(T);
    const env = await readyEnv(o, o.apps[0].appid);
    const kept = await uploadTree(o, env.EnvId, { 'app.js': 'kept' });
    const u = await o.call('CreateUpload', { EnvId: env.EnvId, Files: manifestOf({ 'app.js': 'orphan' }) });
    assert.equal((await put(u.MissingBlobs[0].Url, Buffer.from('orphan'))).status, 200);
    const orphan = sha('orphan');
    const orphanPath = join(T.srv.dataDir, 'objects', 'sha256', orphan.slice(0, 2), orphan.slice(2, 4), orphan);
    assert.ok(existsSync(orphanPath));
    // the worker collects every second here; wait for the upload to expire and a pass
    await waitFor(() => !existsSync(orphanPath), { timeout: 30000, interval: 250, what: 'the orphan blob to be collected' });
    assert.equal(sql(T.srv, `SELECT state FROM uploads WHERE upload_id = '${u.UploadId}'`)[0][0], 'expired');
    const keptPath = join(T.srv.dataDir, 'objects', 'sha256', sha('kept').slice(0, 2), sha('kept').slice(2, 4), sha('kept'));
    assert.ok(existsSync(keptPath), 'a blob of a version stays');
    assert.equal((await o.call('CommitUpload', { UploadId: u.UploadId, Runtime: 'nodejs', Entry: 'app.js' })).Error.Code, 'FailedOperation.UploadExpired');
    assert.equal(kept.version, 1);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

// ---- several instances ------------------------------------------------------

const pgBase = process.env.BINDERY_E2E_PG_URL;
test('two instances on PostgreSQL provision each environment exactly once', { skip: pgBase ? false : 'PostgreSQL only (BINDERY_E2E_PG_URL)' }, async () => {
  const keyDir = await mkdtemp(join(tmpdir(), 'bindery-key-'));
  const T = await startStack({ name: 'envs_a', env: { BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key') } });
  let P;
  try {
    P = await startPeer(T, { name: 'envs_b', env: { BINDERY_STORE: T.srv.env.BINDERY_STORE, BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key') } });
    const owners = [await owner(T, 2), await owner(T, 2), await owner(T, 2)];
    const created = [];
    await Promise.all(owners.flatMap((o, i) => o.apps.flatMap((a) => [0, 1].map(async (k) => {
      const r = await o.call('CreateEnvironment', { AppId: a.appid }, (i + k) % 2 ? P.url : T.url);
      assert.equal(r.Error, undefined, JSON.stringify(r));
      created.push([o, r.EnvId]);
    }))));
    assert.equal(created.length, 12);
    for (const [o, id] of created) {
      await waitFor(async () => (await o.call('DescribeEnvironment', { EnvId: id }, P.url)).Environment.State === 'READY',
        { timeout: 20000, what: `${id} READY` });
    }
    assert.equal(sqlCount(T.srv, 'SELECT COUNT(*) FROM envs WHERE runs = 1'), 12);
    assert.equal(sqlCount(T.srv, 'SELECT COUNT(*) FROM env_steps WHERE attempts <> 1'), 0);
    assert.equal(sqlCount(T.srv, 'SELECT COUNT(DISTINCT port) FROM envs'), 12);
    const workers = sql(T.srv, 'SELECT DISTINCT worker FROM env_steps').length;
    assert.ok(workers >= 1);
  } finally {
    if (P) assert.equal(await P.stop(), 0);
    assert.equal(await T.stop(), 0);
    await rm(keyDir, { recursive: true, force: true });
  }
});

test('the actions are CAM-checked: a signature from no key is refused', async () => {
  const r = await callApi(S.url, { action: 'DescribeEnvironments', version: '2026-11-01', params: {}, secretId: 'AKIDnope', secretKey: 'nope' });
  assert.equal(r.body.Response.Error.Code, 'AuthFailure.SecretIdNotFound');
});

test('the console page /envs is served with the console CSP; its script is there', async () => {
  const page = await fetch(`${S.url}/envs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /data-page="envs"/);
  assert.match(html, /\/static\/envs\.js/);
  const js = await fetch(`${S.url}/static/envs.js`);
  assert.equal(js.status, 200);
  assert.match(await js.text(), /CreateEnvironment/);
});
