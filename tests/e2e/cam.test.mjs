// Access management (访问管理) through the official Node SDK: every CAM
// action of spec cam-and-api §3 that Bindery serves, Bindery's own
// AddCollaborator / DeleteCollaborator, and STS GetCallerIdentity, with the
// errors a user would hit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tencentcloud from 'tencentcloud-sdk-nodejs';
import { startServer } from './lib/harness.mjs';

let srv, owner, ownerKey, cam, other, otherKey;

const profile = () => ({ httpProfile: { endpoint: `127.0.0.1:${srv.port}`, protocol: 'http://', reqTimeout: 10 } });
const camClient = (id, key) => new tencentcloud.cam.v20190116.Client({
  credential: { secretId: id, secretKey: key }, region: '', profile: profile(),
});
const stsClient = (id, key) => new tencentcloud.sts.v20180813.Client({
  credential: { secretId: id, secretKey: key }, region: 'ap-guangzhou', profile: profile(),
});

async function rejects(promise, code, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const allowAll = JSON.stringify({ version: '2.0', statement: [{ effect: 'allow', action: '*', resource: '*' }] });

before(async () => {
  srv = await startServer({ name: 'cam' });
  owner = await srv.adminCreateAccount('cam-owner@example.com', 'owner password 1');
  ownerKey = await srv.adminCreateAccessKey(owner);
  cam = camClient(ownerKey.SecretId, ownerKey.SecretKey);
  other = await srv.adminCreateAccount('cam-other@example.com', 'other password 1');
  otherKey = await srv.adminCreateAccessKey(other);
});
after(async () => { await srv.stop(); });

test('AddUser, GetUser, ListUsers, UpdateUser: a sub-user with its own 11-digit UIN', async () => {
  const added = await cam.AddUser({ Name: 'alice', Remark: 'dev', ConsoleLogin: 1, UseApi: 1 });
  assert.match(String(added.Uin), /^\d{11}$/);
  assert.notEqual(added.Uin, Number(owner));
  assert.equal(added.Name, 'alice');
  assert.equal(added.Password.length, 32, 'a generated password is returned once');
  assert.match(added.Password, /[A-Z]/);
  assert.match(added.Password, /[a-z]/);
  assert.match(added.Password, /[0-9]/);
  assert.match(added.SecretId, /^AKID/);
  assert.equal(added.SecretKey.length, 32);
  assert.ok(added.Uid > 0);

  const got = await cam.GetUser({ Name: 'alice' });
  assert.equal(got.Uin, added.Uin);
  assert.equal(got.Uid, added.Uid);
  assert.equal(got.Remark, 'dev');
  assert.equal(got.ConsoleLogin, 1);

  await cam.UpdateUser({ Name: 'alice', Remark: 'lead', Email: 'alice@example.com' });
  const again = await cam.GetUser({ Name: 'alice' });
  assert.equal(again.Remark, 'lead');
  assert.equal(again.Email, 'alice@example.com');

  const list = await cam.ListUsers({});
  const alice = list.Data.find((u) => u.Name === 'alice');
  assert.equal(alice.Uin, added.Uin);
  assert.match(alice.CreateTime, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

  // The key AddUser returned speaks for alice.
  const asAlice = stsClient(added.SecretId, added.SecretKey);
  await rejects(asAlice.GetCallerIdentity({}), 'AuthFailure.UnauthorizedOperation');
});

test('AddUser errors: illegal names, duplicate names, weak passwords', async () => {
  await rejects(cam.AddUser({ Name: 'bad name!' }), 'InvalidParameter.UserNameIllegal');
  await rejects(cam.AddUser({ Name: '' }), 'InvalidParameter.UserNameIllegal');
  await rejects(cam.AddUser({ Name: 'x'.repeat(65) }), 'InvalidParameter.UserNameIllegal');
  await cam.AddUser({ Name: 'dup' });
  await rejects(cam.AddUser({ Name: 'dup' }), 'InvalidParameter.SubUserNameInUse', /dup/);
  await rejects(cam.AddUser({ Name: 'weak', ConsoleLogin: 1, Password: 'short' }),
    'InvalidParameter.PasswordViolatedRules');
  await rejects(cam.AddUser({ Name: 'weak', ConsoleLogin: 1, Password: 'alllowercase123' }),
    'InvalidParameter.PasswordViolatedRules');
  const ok = await cam.AddUser({ Name: 'strong', ConsoleLogin: 1, Password: 'Str0ng-Passw0rd' });
  assert.equal(ok.Password, '', 'a given password is not echoed');
  await rejects(cam.GetUser({ Name: 'nobody' }), 'ResourceNotFound.UserNotExist');
  await rejects(cam.UpdateUser({ Name: 'nobody', Remark: 'x' }), 'ResourceNotFound.UserNotExist');
  await rejects(cam.DeleteUser({ Name: 'nobody' }), 'ResourceNotFound.UserNotExist');
});

test('API keys of a sub-user: TargetUin, two at most, none when API access is off', async () => {
  const u = await cam.AddUser({ Name: 'keyed', UseApi: 1 });
  const k2 = await cam.CreateAccessKey({ TargetUin: u.Uin });
  assert.match(k2.AccessKey.AccessKeyId, /^AKID/);
  await rejects(cam.CreateAccessKey({ TargetUin: u.Uin }), 'OperationDenied.AccessKeyOverLimit');
  const listed = await cam.ListAccessKeys({ TargetUin: u.Uin });
  assert.deepEqual(listed.AccessKeys.map((k) => k.AccessKeyId).sort(), [u.SecretId, k2.AccessKey.AccessKeyId].sort());
  await cam.UpdateAccessKey({ TargetUin: u.Uin, AccessKeyId: u.SecretId, Status: 'Inactive' });
  await rejects(camClient(u.SecretId, u.SecretKey).GetUserAppId({}), 'AuthFailure.SecretIdNotFound');
  await cam.DeleteAccessKey({ TargetUin: u.Uin, AccessKeyId: u.SecretId });
  // A key of another user does not match TargetUin.
  await rejects(cam.DeleteAccessKey({ TargetUin: u.Uin, AccessKeyId: ownerKey.SecretId }), 'OperationDenied.UinNotMatch');

  const noApi = await cam.AddUser({ Name: 'noapi' });
  assert.equal(noApi.SecretId, '');
  await rejects(cam.CreateAccessKey({ TargetUin: noApi.Uin }), 'FailedOperation.Accesskey');
  await cam.UpdateUser({ Name: 'noapi', UseApi: 1 });
  await cam.CreateAccessKey({ TargetUin: noApi.Uin });
  await rejects(cam.CreateAccessKey({ TargetUin: 99999999999 }), 'InvalidParameter.UserNotExist');
  // Another account's user is not a user of this one.
  await rejects(cam.ListAccessKeys({ TargetUin: Number(other) }), 'InvalidParameter.UserNotExist');
});

test('DeleteUser refuses a user with keys unless Force=1, which deletes the keys', async () => {
  const u = await cam.AddUser({ Name: 'doomed', UseApi: 1 });
  await rejects(cam.DeleteUser({ Name: 'doomed' }), 'OperationDenied.HaveKeys');
  await cam.DeleteUser({ Name: 'doomed', Force: 1 });
  await rejects(cam.GetUser({ Name: 'doomed' }), 'ResourceNotFound.UserNotExist');
  await rejects(camClient(u.SecretId, u.SecretKey).GetUserAppId({}), 'AuthFailure.SecretIdNotFound');
  const plain = await cam.AddUser({ Name: 'plain' });
  await cam.DeleteUser({ Name: 'plain' });
  assert.ok(!(await cam.ListUsers({})).Data.some((x) => x.Uin === plain.Uin));
});

test('policies: CreatePolicy, GetPolicy, ListPolicies, UpdatePolicy, DeletePolicy', async () => {
  const doc = JSON.stringify({ version: '2.0', statement: [{ effect: 'allow', action: 'cam:List*', resource: '*' }] });
  const { PolicyId } = await cam.CreatePolicy({ PolicyName: 'ListOnly', PolicyDocument: doc, Description: 'lists' });
  assert.ok(PolicyId > 999, 'custom ids are above the presets');
  const got = await cam.GetPolicy({ PolicyId });
  assert.equal(got.PolicyName, 'ListOnly');
  assert.equal(got.Type, 1);
  assert.equal(got.PolicyDocument, doc, 'stored verbatim');
  assert.equal(got.Description, 'lists');

  const preset = await cam.GetPolicy({ PolicyId: 1 });
  assert.equal(preset.PolicyName, 'AdministratorAccess');
  assert.equal(preset.Type, 2);

  const all = await cam.ListPolicies({ Rp: 200 });
  assert.ok(all.List.some((p) => p.PolicyName === 'ReadOnlyAccess' && p.Type === 2));
  assert.ok(all.List.some((p) => p.PolicyId === PolicyId && p.Type === 1));
  assert.equal(all.TotalNum, all.List.length);
  const local = await cam.ListPolicies({ Scope: 'Local' });
  assert.deepEqual(local.List.map((p) => p.PolicyName), ['ListOnly']);
  const qcs = await cam.ListPolicies({ Scope: 'QCS', Keyword: 'readonly' });
  assert.ok(qcs.List.length >= 2 && qcs.List.every((p) => p.Type === 2 && /readonly/i.test(p.PolicyName)));
  const page = await cam.ListPolicies({ Rp: 2, Page: 2 });
  assert.equal(page.List.length, 2);
  assert.deepEqual(page.List.map((p) => p.PolicyId), all.List.slice(2, 4).map((p) => p.PolicyId));
  await rejects(cam.ListPolicies({ Scope: 'Mine' }), 'InvalidParameter.ScopeError');

  const doc2 = JSON.stringify({ version: '2.0', statement: [{ effect: 'deny', action: '*', resource: '*' }] });
  const upd = await cam.UpdatePolicy({ PolicyName: 'ListOnly', PolicyDocument: doc2 });
  assert.equal(upd.PolicyId, PolicyId);
  assert.equal((await cam.GetPolicy({ PolicyId })).PolicyDocument, doc2);
  await cam.UpdatePolicy({ PolicyId, Description: 'denies' });
  assert.equal((await cam.GetPolicy({ PolicyId })).Description, 'denies');
  await rejects(cam.UpdatePolicy({ PolicyId: 1, Description: 'mine now' }), 'FailedOperation.Unmodifiable');

  await rejects(cam.CreatePolicy({ PolicyName: 'ListOnly', PolicyDocument: doc }), 'FailedOperation.PolicyNameInUse');
  await rejects(cam.CreatePolicy({ PolicyName: 'AdministratorAccess', PolicyDocument: doc }), 'FailedOperation.PolicyNameInUse');
  await rejects(cam.CreatePolicy({ PolicyName: 'bad name', PolicyDocument: doc }), 'InvalidParameter.PolicyNameError');
  await rejects(cam.CreatePolicy({ PolicyName: 'long-desc', PolicyDocument: doc, Description: 'd'.repeat(301) }),
    'InvalidParameter.DescriptionLengthOverlimit');

  await cam.DeletePolicy({ PolicyId: [PolicyId] });
  await rejects(cam.GetPolicy({ PolicyId }), 'ResourceNotFound.PolicyIdNotFound');
  await rejects(cam.DeletePolicy({ PolicyId: [PolicyId] }), 'ResourceNotFound.PolicyIdNotFound');
  await rejects(cam.DeletePolicy({ PolicyId: [1] }), 'FailedOperation.Unmodifiable');
  await rejects(cam.GetPolicy({ PolicyId: 987654 }), 'ResourceNotFound.PolicyIdNotFound');
});

test('bad policy documents answer the spec codes with line and column', async () => {
  const cases = [
    ['not json', 'InvalidParameter.PolicyDocumentError'],
    ['{"version":"1.0","statement":[{"effect":"allow","action":"*","resource":"*"}]}', 'InvalidParameter.VersionError'],
    ['{"version":"2.0","statement":[]}', 'InvalidParameter.StatementError'],
    ['{"version":"2.0","statement":[{"effect":"maybe","action":"*","resource":"*"}]}', 'InvalidParameter.EffectError'],
    ['{"version":"2.0","statement":[{"effect":"allow","resource":"*"}]}', 'InvalidParameter.ActionMiss'],
    ['{"version":"2.0","statement":[{"effect":"allow","action":"permid/cos:x","resource":"*"}]}', 'InvalidParameter.ActionError'],
    ['{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"abc"}]}', 'InvalidParameter.ResourceError'],
    ['{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"no_such_op":{"qcs:ip":"1.2.3.4"}}}]}', 'InvalidParameter.ConditionTypeError'],
    ['{"version":"2.0","statement":[{"effect":"allow","action":"*","resource":"*","condition":{"ip_equal":{"qcs:ip":"999.1.1.1"}}}]}', 'InvalidParameter.ConditionContentError'],
    ['{"version":"2.0","principal":"*","statement":[{"effect":"allow","action":"*","resource":"*"}]}', 'InvalidParameter.PrincipalError'],
  ];
  for (const [doc, code] of cases) {
    await rejects(cam.CreatePolicy({ PolicyName: 'bad', PolicyDocument: doc }), code);
  }
  const multi = '{\n  "version": "2.0",\n  "statement": [{"effect": "allow",\n    "action": "no-colon", "resource": "*"}]\n}';
  await rejects(cam.CreatePolicy({ PolicyName: 'bad', PolicyDocument: multi }), 'InvalidParameter.ActionError', /line 4 column \d+/);
  const huge = JSON.stringify({ version: '2.0', statement: [{ effect: 'allow', action: Array(800).fill('cam:ListUsers'), resource: '*' }] });
  await rejects(cam.CreatePolicy({ PolicyName: 'huge', PolicyDocument: huge }), 'InvalidParameter.PolicyDocumentLengthOverLimit');
  assert.equal((await cam.ListPolicies({ Scope: 'Local' })).TotalNum, 0, 'nothing was stored');
  // URL-encoded documents are accepted (spec §2.1).
  const { PolicyId } = await cam.CreatePolicy({ PolicyName: 'encoded', PolicyDocument: encodeURIComponent(allowAll) });
  await cam.DeletePolicy({ PolicyId: [PolicyId] });
});

test('attachments: users, groups, ListAttachedUserAllPolicies, limits of what exists', async () => {
  const u = await cam.AddUser({ Name: 'attached' });
  const { PolicyId } = await cam.CreatePolicy({ PolicyName: 'AllowAll', PolicyDocument: allowAll });
  await cam.AttachUserPolicy({ PolicyId, AttachUin: u.Uin });
  await cam.AttachUserPolicy({ PolicyId, AttachUin: u.Uin }); // idempotent
  await cam.AttachUserPolicy({ PolicyId: 2, AttachUin: u.Uin });
  const direct = await cam.ListAttachedUserPolicies({ TargetUin: u.Uin });
  assert.equal(direct.TotalNum, 2);
  assert.deepEqual(direct.List.map((p) => [p.PolicyId, p.PolicyType]), [[2, 'QCS'], [PolicyId, 'User']]);
  assert.equal(direct.List[1].OperateUin, owner);

  const { GroupId } = await cam.CreateGroup({ GroupName: 'devs', Remark: 'developers' });
  await rejects(cam.CreateGroup({ GroupName: 'devs' }), 'InvalidParameter.GroupNameInUse');
  await cam.AttachGroupPolicy({ PolicyId: 1, AttachGroupId: GroupId });
  await cam.AddUserToGroup({ Info: [{ GroupId, Uin: u.Uin }] });
  await cam.AddUserToGroup({ Info: [{ GroupId, Uid: u.Uid }] }); // already a member
  const g = await cam.GetGroup({ GroupId });
  assert.equal(g.GroupName, 'devs');
  assert.equal(g.GroupNum, 1);
  assert.equal(g.UserInfo[0].Uin, u.Uin);
  const forGroup = await cam.ListUsersForGroup({ GroupId });
  assert.equal(forGroup.TotalNum, 1);
  const forUser = await cam.ListGroupsForUser({ SubUin: u.Uin });
  assert.deepEqual(forUser.GroupInfo.map((x) => x.GroupId), [GroupId]);
  const groupPolicies = await cam.ListAttachedGroupPolicies({ TargetGroupId: GroupId });
  assert.deepEqual(groupPolicies.List.map((p) => p.PolicyName), ['AdministratorAccess']);

  const allP = await cam.ListAttachedUserAllPolicies({ TargetUin: u.Uin, Rp: 20, Page: 1, AttachType: 0 });
  assert.equal(allP.TotalNum, 3);
  const admin = allP.PolicyList.find((p) => p.PolicyId === '1');
  assert.deepEqual(admin.Groups, [{ GroupId, GroupName: 'devs' }]);
  assert.equal(admin.StrategyType, '2');
  const viaGroups = await cam.ListAttachedUserAllPolicies({ TargetUin: u.Uin, Rp: 20, Page: 1, AttachType: 2 });
  assert.deepEqual(viaGroups.PolicyList.map((p) => p.PolicyId), ['1']);
  const customOnly = await cam.ListAttachedUserAllPolicies({ TargetUin: u.Uin, Rp: 20, Page: 1, AttachType: 0, StrategyType: 1 });
  assert.deepEqual(customOnly.PolicyList.map((p) => p.PolicyId), [String(PolicyId)]);

  const summary = await cam.GetAccountSummary({});
  assert.ok(summary.User >= 1 && summary.Group === 1 && summary.Member === 1 && summary.Policies >= 1);

  await rejects(cam.AttachUserPolicy({ PolicyId: 424242, AttachUin: u.Uin }), 'InvalidParameter.PolicyIdNotExist');
  await rejects(cam.AttachUserPolicy({ PolicyId, AttachUin: 12345678901 }), 'ResourceNotFound.UserNotExist');
  await rejects(cam.AttachGroupPolicy({ PolicyId, AttachGroupId: 999999 }), 'ResourceNotFound.GroupNotExist');
  await rejects(cam.AddUserToGroup({ Info: [{ GroupId: 999999, Uin: u.Uin }] }), 'InvalidParameter.GroupNotExist');
  await rejects(cam.AddUserToGroup({ Info: [{ GroupId }] }), 'InvalidParameter.UserUinAndUinNotAllNull');
  await rejects(cam.AddUserToGroup({ Info: [{ GroupId, Uin: 12345678901 }] }), 'ResourceNotFound.UserNotExist');
  await rejects(cam.GetGroup({ GroupId: 999999 }), 'ResourceNotFound.GroupNotExist');

  await cam.DetachUserPolicy({ PolicyId: 2, DetachUin: u.Uin });
  await cam.DetachGroupPolicy({ PolicyId: 1, DetachGroupId: GroupId });
  assert.equal((await cam.ListAttachedUserAllPolicies({ TargetUin: u.Uin, Rp: 20, Page: 1, AttachType: 0 })).TotalNum, 1);
  await cam.RemoveUserFromGroup({ Info: [{ GroupId, Uid: u.Uid }] });
  assert.equal((await cam.GetGroup({ GroupId })).GroupNum, 0);

  await cam.UpdateGroup({ GroupId, GroupName: 'developers' });
  assert.equal((await cam.ListGroups({ Keyword: 'velop' })).GroupInfo[0].GroupName, 'developers');
  await cam.AddUserToGroup({ Info: [{ GroupId, Uin: u.Uin }] });
  await cam.AttachGroupPolicy({ PolicyId, AttachGroupId: GroupId });
  // Deleting the policy removes it from the user and the group.
  await cam.DeletePolicy({ PolicyId: [PolicyId] });
  assert.equal((await cam.ListAttachedUserAllPolicies({ TargetUin: u.Uin, Rp: 20, Page: 1, AttachType: 0 })).TotalNum, 0);
  await cam.DeleteGroup({ GroupId });
  await rejects(cam.DeleteGroup({ GroupId }), 'ResourceNotFound.GroupNotExist');
  assert.equal((await cam.ListGroupsForUser({ SubUin: u.Uin })).TotalNum, 0);
});

test('limits: 10 groups per user, 2 keys, group members', async () => {
  const u = await cam.AddUser({ Name: 'joiner' });
  const groups = [];
  for (let i = 0; i < 11; i++) groups.push((await cam.CreateGroup({ GroupName: `g${i}` })).GroupId);
  await cam.AddUserToGroup({ Info: groups.slice(0, 10).map((GroupId) => ({ GroupId, Uin: u.Uin })) });
  await rejects(cam.AddUserToGroup({ Info: [{ GroupId: groups[10], Uin: u.Uin }] }), 'InvalidParameter.UserGroupFull');
  for (const GroupId of groups) await cam.DeleteGroup({ GroupId });
});

// AddCollaborator / DeleteCollaborator are Bindery's own actions, absent from
// the SDK's typed methods: the SDK's generic request() signs and sends them.
test('collaborators: AddCollaborator validates, ListCollaborators, keys act in the owner', async () => {
  const sub = await cam.AddUser({ Name: 'notroot' });
  await rejects(cam.request('AddCollaborator', { CollaboratorUin: Number(owner) }), 'InvalidParameter.ParamError');
  await rejects(cam.request('AddCollaborator', { CollaboratorUin: 123456789012 }), 'InvalidParameter.UserNotExist');
  await rejects(cam.request('AddCollaborator', { CollaboratorUin: sub.Uin }), 'InvalidParameter.UserNotExist');
  const added = await cam.request('AddCollaborator', { CollaboratorUin: Number(other), Name: 'bob' });
  assert.equal(added.Uin, Number(other));
  await rejects(cam.request('AddCollaborator', { CollaboratorUin: Number(other) }), 'ResourceInUse.Collaborator');
  const list = await cam.ListCollaborators({});
  assert.equal(list.TotalNum, 1);
  assert.equal(list.Data[0].Uin, Number(other));
  assert.equal(list.Data[0].Name, 'bob');
  assert.ok(!(await cam.ListUsers({})).Data.some((u) => u.Uin === Number(other)), 'ListUsers lists sub-users only');

  // A key created for the collaborator inside the owner acts in the owner.
  const { AccessKey } = await cam.CreateAccessKey({ TargetUin: Number(other) });
  const asCollab = camClient(AccessKey.AccessKeyId, AccessKey.SecretAccessKey);
  await rejects(asCollab.GetUserAppId({}), 'AuthFailure.UnauthorizedOperation');
  await cam.AttachUserPolicy({ PolicyId: 2, AttachUin: Number(other) }); // ReadOnlyAccess
  const who = await asCollab.GetUserAppId({});
  assert.equal(who.Uin, other);
  assert.equal(who.OwnerUin, owner);
  const ident = await stsClient(AccessKey.AccessKeyId, AccessKey.SecretAccessKey).GetCallerIdentity({});
  assert.deepEqual([ident.AccountId, ident.UserId, ident.Type], [owner, other, 'CAMUser']);
  assert.equal(ident.Arn, `qcs::cam:${owner}:uin/${other}`);
  // Its own root key still acts in its own account.
  const own = await camClient(otherKey.SecretId, otherKey.SecretKey).GetUserAppId({});
  assert.equal(own.OwnerUin, other);

  await cam.request('DeleteCollaborator', { CollaboratorUin: Number(other) });
  await rejects(asCollab.GetUserAppId({}), 'AuthFailure.SecretIdNotFound');
  assert.equal((await cam.ListCollaborators({})).TotalNum, 0);
  await rejects(cam.request('DeleteCollaborator', { CollaboratorUin: Number(other) }), 'ResourceNotFound.UserNotExist');
});

test('GetCallerIdentity and GetUserAppId for the root', async () => {
  const ident = await stsClient(ownerKey.SecretId, ownerKey.SecretKey).GetCallerIdentity({});
  assert.deepEqual([ident.AccountId, ident.UserId, ident.PrincipalId, ident.Type], [owner, owner, owner, 'CAMUser']);
  const app = await cam.GetUserAppId({});
  assert.equal(app.Uin, owner);
});

test('unknown parameters and wrong types are refused', async () => {
  await rejects(cam.AddUser({ Name: 'x1', Bogus: 1 }), 'UnknownParameter');
  await rejects(cam.AddUser({ Name: 'x1', ConsoleLogin: 2 }), 'InvalidParameterValue');
  await rejects(cam.DeletePolicy({ PolicyId: ['abc'] }), 'InvalidParameter.PolicyIdError');
  await rejects(cam.AddUserToGroup({ Info: ['x'] }), 'InvalidParameter');
});
