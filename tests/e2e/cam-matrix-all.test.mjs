// The authorization matrix over the whole catalogue: every action of the API
// (as `bindery admin actions` lists it) × {root; sub-user with no policy,
// with AdministratorAccess, with ReadOnlyAccess; collaborator switched in
// (a key made for it inside the owner) with and without a policy; the
// collaborator in its own account, not switched; another account's root}.
// Each call carries well-formed parameters made from the action's own
// parameter table, so it passes validation and reaches the CAM check, which
// runs before the action: a denial is exactly AuthFailure.UnauthorizedOperation
// naming the action; an allowed call may still fail later (unknown user,
// missing link...), but never with that code. cam-matrix.test.mjs covers
// resource-level policies, conditions and groups on chosen actions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { callApi } from './lib/tc3.mjs';
import { startServer, BIN } from './lib/harness.mjs';

const DENIED = 'AuthFailure.UnauthorizedOperation';
const READ_ONLY = /^(Check|List|Describe|Search|Get|BatchGet|Query|BatchQuery|Download|Export|View|Inquiry|Inquire|Compare|Verify|Validate)/i;

const actions = JSON.parse(spawnSync(BIN, ['admin', 'actions'], { encoding: 'utf8' }).stdout);

// A value that passes the dispatcher's checks for param p.
function valueOf(p) {
  switch (p.Type) {
    case 'string': return 'x'.repeat(Math.max(p.Min, Math.min(8, p.Max)));
    case 'uint64': return Math.max(p.Min, Math.min(7, p.Max));
    case 'bool': return false;
    case 'array': return Array(p.Min).fill('x');
    default: return {};
  }
}
const paramsOf = (a) => Object.fromEntries(a.Params.filter((p) => p.Required).map((p) => [p.Name, valueOf(p)]));

let srv, keys, collabUin;
async function call(key, a) {
  const r = await callApi(srv.url, {
    action: a.Action, version: a.Version, params: paramsOf(a), secretId: key.SecretId, secretKey: key.SecretKey,
  });
  return r.body.Response;
}
async function cam(key, action, params) {
  const r = await callApi(srv.url, { action, params, secretId: key.SecretId, secretKey: key.SecretKey });
  assert.equal(r.body.Response.Error, undefined, `${action}: ${JSON.stringify(r.body)}`);
  return r.body.Response;
}

before(async () => {
  srv = await startServer({ name: 'matrix_all' });
  const owner = await srv.adminCreateAccount('all-owner@example.com', 'owner password 1');
  const collab = await srv.adminCreateAccount('all-collab@example.com', 'collab password 1');
  const other = await srv.adminCreateAccount('all-other@example.com', 'other password 1');
  const root = await srv.adminCreateAccessKey(owner);
  keys = { root, other: await srv.adminCreateAccessKey(other), collabOwn: await srv.adminCreateAccessKey(collab) };
  const sub = async (name, policy) => {
    const u = await cam(root, 'AddUser', { Name: name, UseApi: 1 });
    if (policy) await cam(root, 'AttachUserPolicy', { PolicyId: policy, AttachUin: u.Uin });
    return { SecretId: u.SecretId, SecretKey: u.SecretKey };
  };
  keys.subNone = await sub('m-none');
  keys.subAdmin = await sub('m-admin', 1);
  keys.subRead = await sub('m-read', 2);
  collabUin = Number(collab);
  await cam(root, 'AddCollaborator', { CollaboratorUin: collabUin });
  const inOwner = await cam(root, 'CreateAccessKey', { TargetUin: collabUin });
  keys.collabIn = { SecretId: inOwner.AccessKey.AccessKeyId, SecretKey: inOwner.AccessKey.SecretAccessKey };
});
after(async () => { if (srv) assert.equal(await srv.stop(), 0); });

// who → does it expect the action a allowed?
const expectations = {
  root: () => true,
  subNone: () => false,
  subAdmin: () => true,
  subRead: (a) => READ_ONLY.test(a.Action),
  collabInNone: () => false,
  collabInAdmin: () => true,
  collabOwn: () => true, // in its own account it is a root
  other: () => true, // likewise: its calls act in its own account, never in the owner's
};

test('the catalogue is there: every module\'s actions, each with its CAM name', () => {
  const names = actions.map((a) => a.Action);
  for (const n of ['GetUserAppId', 'AddUser', 'CreatePolicy', 'GetCallerIdentity', 'CreateLink',
    'CreateConsoleLoginUrl', 'CreateEnvironment', 'CreateUpload', 'CreateDeploy', 'DescribeDeployLog']) {
    assert.ok(names.includes(n), n);
  }
  for (const a of actions) assert.match(a.CamAction, /^[a-z]+:[A-Za-z]+$/, a.Action);
  assert.ok(actions.length >= 60);
});

for (const who of ['root', 'subNone', 'subAdmin', 'subRead', 'collabInNone', 'collabInAdmin', 'collabOwn', 'other']) {
  test(`every action as ${who}`, async () => {
    const key = who.startsWith('collabIn') ? keys.collabIn : keys[who];
    // the same key as collabInNone, once the owner has given it 所有策略
    if (who === 'collabInAdmin') await cam(keys.root, 'AttachUserPolicy', { PolicyId: 1, AttachUin: collabUin });
    const wrong = [];
    for (const a of actions) {
      const r = await call(key, a);
      const denied = r.Error && r.Error.Code === DENIED;
      const allow = expectations[who](a);
      if (allow === denied) wrong.push(`${a.Action}: ${allow ? 'denied' : JSON.stringify(r.Error || 'allowed')}`);
      if (denied) assert.match(r.Error.Message, new RegExp(`operation \\(${a.CamAction}\\)`), a.Action);
    }
    assert.deepEqual(wrong, []);
  });
}
