// The authorization matrix: principals with different policies call a set of
// actions with their own API keys (through the official SDK) and get either
// an answer or AuthFailure.UnauthorizedOperation, as spec §2.8 decides. On
// PostgreSQL, a second instance on the same database sees a policy change
// made through the first at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tencentcloud from 'tencentcloud-sdk-nodejs';
import { startServer } from './lib/harness.mjs';

let srv, owner, root, otherRoot, otherUin;

const clientFor = (port, key) => new tencentcloud.cam.v20190116.Client({
  credential: { secretId: key.SecretId, secretKey: key.SecretKey }, region: '',
  profile: { httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: 'http://', reqTimeout: 10 } },
});
const stsFor = (port, key) => new tencentcloud.sts.v20180813.Client({
  credential: { secretId: key.SecretId, secretKey: key.SecretKey }, region: 'ap-guangzhou',
  profile: { httpProfile: { endpoint: `127.0.0.1:${port}`, protocol: 'http://', reqTimeout: 10 } },
});

// 'allow' when the call is answered (even with a non-CAM error), 'deny' on
// AuthFailure.UnauthorizedOperation.
async function outcome(promise) {
  try {
    await promise;
    return 'allow';
  } catch (err) {
    if (err.code === 'AuthFailure.UnauthorizedOperation') {
      assert.match(err.message, /you are not authorized to perform operation \(\w+:\w+\)\nresource \(.+\) has no permission/);
      return 'deny';
    }
    if (err.code && !/^AuthFailure/.test(err.code)) return 'allow';
    throw err;
  }
}

const doc = (...statement) => JSON.stringify({ version: '2.0', statement });

// A sub-user with its own key, and the policies named attached to it.
async function subUser(name, policyIds = []) {
  const u = await root.AddUser({ Name: name, UseApi: 1 });
  for (const PolicyId of policyIds) await root.AttachUserPolicy({ PolicyId, AttachUin: u.Uin });
  return { uin: u.Uin, key: { SecretId: u.SecretId, SecretKey: u.SecretKey } };
}

let probe; // a user every principal tries to read
before(async () => {
  srv = await startServer({ name: 'matrix' });
  owner = await srv.adminCreateAccount('matrix-owner@example.com', 'owner password 1');
  root = clientFor(srv.port, await srv.adminCreateAccessKey(owner));
  otherUin = await srv.adminCreateAccount('matrix-other@example.com', 'other password 1');
  otherRoot = clientFor(srv.port, await srv.adminCreateAccessKey(otherUin));
  probe = await root.AddUser({ Name: 'probe' });
});
after(async () => { await srv.stop(); });

// The actions every principal tries, and the answers expected per principal.
const actions = {
  ListUsers: (c) => c.ListUsers({}),
  GetUser: (c) => c.GetUser({ Name: 'probe' }),
  ListPolicies: (c) => c.ListPolicies({}),
  AddUser: (c, tag) => c.AddUser({ Name: `made-by-${tag}` }),
  CreateGroup: (c, tag) => c.CreateGroup({ GroupName: `group-${tag}` }),
  GetUserAppId: (c) => c.GetUserAppId({}),
  UpdateUserProbe: (c) => c.UpdateUser({ Name: 'probe', Remark: 'touched' }),
};

async function row(client, tag) {
  const out = {};
  for (const [name, fn] of Object.entries(actions)) out[name] = await outcome(fn(client, tag));
  return out;
}

const ALL = (v) => Object.fromEntries(Object.keys(actions).map((k) => [k, v]));

test('root in its own account may do everything; another account\'s root sees nothing of it', async () => {
  assert.deepEqual(await row(root, 'root'), ALL('allow'));
  // The other root acts in its own account: probe is not there.
  await assert.rejects(otherRoot.GetUser({ Name: 'probe' }), { code: 'ResourceNotFound.UserNotExist' });
  assert.ok(!(await otherRoot.ListUsers({})).Data.some((u) => u.Name === 'probe'));
});

test('a sub-user with no policy is denied everything', async () => {
  const u = await subUser('nopolicy');
  assert.deepEqual(await row(clientFor(srv.port, u.key), 'nopolicy'), ALL('deny'));
  await assert.rejects(stsFor(srv.port, u.key).GetCallerIdentity({}), { code: 'AuthFailure.UnauthorizedOperation' });
});

test('ReadOnlyAccess allows reads only; QcloudCamReadOnlyAccess allows CAM reads only', async () => {
  const ro = await subUser('readonly', [2]);
  assert.deepEqual(await row(clientFor(srv.port, ro.key), 'ro'), {
    ListUsers: 'allow', GetUser: 'allow', ListPolicies: 'allow', AddUser: 'deny', CreateGroup: 'deny',
    GetUserAppId: 'allow', UpdateUserProbe: 'deny',
  });
  const camRo = (await root.ListPolicies({ Keyword: 'QcloudCamReadOnlyAccess' })).List[0].PolicyId;
  const cr = await subUser('camreadonly', [camRo]);
  assert.deepEqual(await row(clientFor(srv.port, cr.key), 'cr'), {
    ListUsers: 'allow', GetUser: 'allow', ListPolicies: 'allow', AddUser: 'deny', CreateGroup: 'deny',
    GetUserAppId: 'allow', UpdateUserProbe: 'deny',
  });
  const camFull = (await root.ListPolicies({ Keyword: 'QcloudCamFullAccess' })).List[0].PolicyId;
  const cf = await subUser('camfull', [camFull]);
  assert.deepEqual(await row(clientFor(srv.port, cf.key), 'cf'), ALL('allow'));
  // sts: actions are outside the CAM-only preset.
  await assert.rejects(stsFor(srv.port, cr.key).GetCallerIdentity({}), { code: 'AuthFailure.UnauthorizedOperation' });
  assert.equal((await stsFor(srv.port, ro.key).GetCallerIdentity({})).UserId, String(ro.uin));
});

test('a custom policy allowing one action on one resource', async () => {
  const other = await root.AddUser({ Name: 'other-target' });
  const { PolicyId } = await root.CreatePolicy({
    PolicyName: 'GetProbeOnly',
    PolicyDocument: doc({ effect: 'allow', action: 'name/cam:GetUser', resource: `qcs::cam::uin/${owner}:uin/${probe.Uin}` }),
  });
  const u = await subUser('narrow', [PolicyId]);
  const c = clientFor(srv.port, u.key);
  assert.deepEqual(await row(c, 'narrow'), { ...ALL('deny'), GetUser: 'allow' });
  assert.equal(await outcome(c.GetUser({ Name: 'other-target' })), 'deny', 'another user is another resource');
  assert.equal(other.Name, 'other-target');
});

test('an explicit deny beats an allow, directly and through a group', async () => {
  const denyCreate = (await root.CreatePolicy({
    PolicyName: 'DenyCreateGroup', PolicyDocument: doc({ effect: 'deny', action: 'cam:CreateGroup', resource: '*' }),
  })).PolicyId;
  const direct = await subUser('admin-denied', [1, denyCreate]);
  assert.deepEqual(await row(clientFor(srv.port, direct.key), 'ad'), { ...ALL('allow'), CreateGroup: 'deny' });

  const viaGroup = await subUser('admin-grouped', [1]);
  const c = clientFor(srv.port, viaGroup.key);
  assert.equal(await outcome(c.CreateGroup({ GroupName: 'before-deny' })), 'allow');
  const { GroupId } = await root.CreateGroup({ GroupName: 'denied-group' });
  await root.AttachGroupPolicy({ PolicyId: denyCreate, AttachGroupId: GroupId });
  await root.AddUserToGroup({ Info: [{ GroupId, Uin: viaGroup.uin }] });
  assert.equal(await outcome(c.CreateGroup({ GroupName: 'after-deny' })), 'deny', 'the change applies at once');
  await root.RemoveUserFromGroup({ Info: [{ GroupId, Uin: viaGroup.uin }] });
  assert.equal(await outcome(c.CreateGroup({ GroupName: 'after-removal' })), 'allow');
});

test('an ip_equal condition: allowed from 127.0.0.1, denied from elsewhere', async () => {
  const here = (await root.CreatePolicy({
    PolicyName: 'FromLoopback',
    PolicyDocument: doc({ effect: 'allow', action: 'cam:ListUsers', resource: '*', condition: { ip_equal: { 'qcs:ip': '127.0.0.0/8' } } }),
  })).PolicyId;
  const there = (await root.CreatePolicy({
    PolicyName: 'FromElsewhere',
    PolicyDocument: doc({ effect: 'allow', action: 'cam:ListPolicies', resource: '*', condition: { ip_equal: { 'qcs:ip': '203.0.113.0/24' } } }),
  })).PolicyId;
  const u = await subUser('ipbound', [here, there]);
  const c = clientFor(srv.port, u.key);
  assert.equal(await outcome(c.ListUsers({})), 'allow');
  assert.equal(await outcome(c.ListPolicies({})), 'deny');
});

test('a collaborator: denied without policies, allowed with them, nothing once removed', async () => {
  await root.request('AddCollaborator', { CollaboratorUin: Number(otherUin), Name: 'partner' });
  const { AccessKey } = await root.CreateAccessKey({ TargetUin: Number(otherUin) });
  const c = clientFor(srv.port, { SecretId: AccessKey.AccessKeyId, SecretKey: AccessKey.SecretAccessKey });
  assert.deepEqual(await row(c, 'collab0'), ALL('deny'));
  await root.AttachUserPolicy({ PolicyId: 2, AttachUin: Number(otherUin) });
  assert.deepEqual(await row(c, 'collab1'), {
    ListUsers: 'allow', GetUser: 'allow', ListPolicies: 'allow', AddUser: 'deny', CreateGroup: 'deny',
    GetUserAppId: 'allow', UpdateUserProbe: 'deny',
  });
  // In its own account it is a root again, untouched by the owner's policies.
  assert.deepEqual(await row(otherRoot, 'own'), ALL('allow'));
  await root.request('DeleteCollaborator', { CollaboratorUin: Number(otherUin) });
  await assert.rejects(c.ListUsers({}), { code: 'AuthFailure.SecretIdNotFound' });
});

test('a sub-user may not manage the root\'s keys; its own keys follow its policies', async () => {
  const u = await subUser('keymaker', [1]);
  const c = clientFor(srv.port, u.key);
  await assert.rejects(c.ListAccessKeys({ TargetUin: Number(owner) }), { code: 'OperationDenied.SubUin' });
  const own = await c.ListAccessKeys({});
  assert.deepEqual(own.AccessKeys.map((k) => k.AccessKeyId), [u.key.SecretId]);
});

// ---- two instances on one PostgreSQL ----

const pgBase = process.env.BINDERY_E2E_PG_URL;
const skip = pgBase ? false : 'runs on PostgreSQL only (BINDERY_E2E_PG_URL is not set)';

test('a policy change through instance 1 takes effect on instance 2 immediately', { skip }, async () => {
  const db = `cammatrix_${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync('psql', [pgBase, '-qAtc', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const url = new URL(pgBase);
  url.pathname = `/${db}`;
  const keyDir = await mkdtemp(join(tmpdir(), 'bindery-key-'));
  const shared = { BINDERY_STORE: url.toString(), BINDERY_MASTER_KEY_FILE: join(keyDir, 'master.key') };
  const one = await startServer({ name: 'one', env: shared });
  const two = await startServer({ name: 'two', env: shared });
  try {
    const uin = await one.adminCreateAccount('two-instances@example.com', 'owner password 1');
    const rootOne = clientFor(one.port, await one.adminCreateAccessKey(uin));
    const u = await rootOne.AddUser({ Name: 'roaming', UseApi: 1 });
    const onTwo = clientFor(two.port, { SecretId: u.SecretId, SecretKey: u.SecretKey });
    assert.equal(await outcome(onTwo.ListUsers({})), 'deny'); // instance 2 caches the empty set
    await rootOne.AttachUserPolicy({ PolicyId: 2, AttachUin: u.Uin });
    assert.equal(await outcome(onTwo.ListUsers({})), 'allow');
    const { PolicyId } = await rootOne.CreatePolicy({
      PolicyName: 'NoList', PolicyDocument: doc({ effect: 'deny', action: 'cam:List*', resource: '*' }),
    });
    await rootOne.AttachUserPolicy({ PolicyId, AttachUin: u.Uin });
    assert.equal(await outcome(onTwo.ListUsers({})), 'deny');
    await rootOne.UpdatePolicy({ PolicyId, PolicyDocument: doc({ effect: 'deny', action: 'cam:GetUser', resource: '*' }) });
    assert.equal(await outcome(onTwo.ListUsers({})), 'allow', 'the new document, recompiled on instance 2');
    await rootOne.DetachUserPolicy({ PolicyId: 2, DetachUin: u.Uin });
    assert.equal(await outcome(onTwo.ListUsers({})), 'deny');
  } finally {
    await one.stop();
    await two.stop();
    await rm(keyDir, { recursive: true, force: true });
  }
});
