// The API 3.0 gateway, driven by the official Node SDK and by hand-signed
// requests: success paths and every documented error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tencentcloud from 'tencentcloud-sdk-nodejs';
import { startServer, ConsoleClient } from './lib/harness.mjs';
import { callApi } from './lib/tc3.mjs';

let srv, uin, key;

function camClient(secretId, secretKey) {
  return new tencentcloud.cam.v20190116.Client({
    credential: { secretId, secretKey },
    region: '',
    profile: { httpProfile: { endpoint: `127.0.0.1:${srv.port}`, protocol: 'http://', reqTimeout: 10 } },
  });
}

const api = (opts) => callApi(srv.url, { secretId: key.SecretId, secretKey: key.SecretKey, ...opts });
const errorCode = (r) => r.body.Response.Error && r.body.Response.Error.Code;

before(async () => {
  srv = await startServer({ name: 'api' });
  uin = await srv.adminCreateAccount('api-owner@example.com', 'correct horse battery');
  key = await srv.adminCreateAccessKey(uin);
});
after(async () => { await srv.stop(); });

test('the official SDK calls GetUserAppId and ListAccessKeys with admin-created keys', async () => {
  const cam = camClient(key.SecretId, key.SecretKey);
  const who = await cam.GetUserAppId({});
  assert.equal(who.Uin, uin);
  assert.equal(who.OwnerUin, uin);
  assert.equal(typeof who.AppId, 'number');
  assert.match(String(who.AppId), /^\d{10}$/);
  assert.match(who.RequestId, /^[0-9a-f-]{36}$/);
  const keys = await cam.ListAccessKeys({});
  assert.deepEqual(keys.AccessKeys.map((k) => k.AccessKeyId), [key.SecretId]);
  assert.equal(keys.AccessKeys[0].Status, 'Active');
  assert.equal(keys.AccessKeys[0].SecretAccessKey, undefined, 'secrets are never listed');
});

test('the official SDK with a wrong SecretKey fails with AuthFailure.SignatureFailure', async () => {
  const cam = camClient(key.SecretId, 'x'.repeat(32));
  await assert.rejects(cam.GetUserAppId({}), (err) => {
    assert.equal(err.code, 'AuthFailure.SignatureFailure');
    assert.match(err.requestId, /^[0-9a-f-]{36}$/);
    return true;
  });
});

test('an unknown SecretId fails with AuthFailure.SecretIdNotFound', async () => {
  const cam = camClient('AKID' + 'Z'.repeat(32), key.SecretKey);
  await assert.rejects(cam.GetUserAppId({}), { code: 'AuthFailure.SecretIdNotFound' });
});

test('responses are HTTP 200, exactly application/json, with RequestId = X-Request-Id', async () => {
  const r = await api({ action: 'GetUserAppId' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.body.Response.RequestId, r.headers.get('x-request-id'));
  const bad = await api({ action: 'NoSuchAction' });
  assert.equal(bad.status, 200);
  assert.equal(bad.headers.get('content-type'), 'application/json');
  assert.equal(bad.body.Response.RequestId, bad.headers.get('x-request-id'));
});

test('a timestamp more than 300 s away fails with AuthFailure.SignatureExpire', async () => {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(errorCode(await api({ action: 'GetUserAppId', timestamp: now - 400 })), 'AuthFailure.SignatureExpire');
  assert.equal(errorCode(await api({ action: 'GetUserAppId', timestamp: now + 400 })), 'AuthFailure.SignatureExpire');
  assert.equal(errorCode(await api({ action: 'GetUserAppId', timestamp: now - 200 })), undefined);
});

test('missing or malformed Authorization fails with AuthFailure.InvalidAuthorization', async () => {
  for (const authorization of [null, '', 'garbage', 'SKIP', 'HMAC-SHA1 Credential=x',
    'TC3-HMAC-SHA256 Credential=AKID/2020-01-01/cam/tc3_request, SignedHeaders=host, Signature=00']) {
    const r = await api({ action: 'GetUserAppId', authorization });
    assert.equal(errorCode(r), 'AuthFailure.InvalidAuthorization', `for ${authorization}`);
  }
});

test('a tampered body fails with AuthFailure.SignatureFailure', async () => {
  const signed = await api({ action: 'ListAccessKeys', params: {} });
  assert.equal(errorCode(signed), undefined);
  const now = Math.floor(Date.now() / 1000);
  const { sign } = await import('./lib/tc3.mjs');
  const authorization = sign({ secretId: key.SecretId, secretKey: key.SecretKey, host: `127.0.0.1:${srv.port}`, body: '{}', timestamp: now });
  const r = await api({ action: 'ListAccessKeys', rawBody: `{"TargetUin":${uin}}`, authorization, timestamp: now });
  assert.equal(errorCode(r), 'AuthFailure.SignatureFailure');
});

test('missing X-TC-Action, unknown actions and versions get their codes', async () => {
  assert.equal(errorCode(await api({ action: null })), 'MissingParameter');
  assert.equal(errorCode(await api({ action: 'DescribeInstances' })), 'InvalidAction');
  assert.equal(errorCode(await api({ action: 'GetUserAppId', version: '2017-03-12' })), 'NoSuchVersion');
});

test('bad parameters: malformed JSON, wrong types, missing and unknown fields', async () => {
  assert.equal(errorCode(await api({ action: 'ListAccessKeys', rawBody: '{"TargetUin":' })), 'InvalidParameter');
  assert.equal(errorCode(await api({ action: 'ListAccessKeys', rawBody: '[1,2]' })), 'InvalidParameter');
  assert.equal(errorCode(await api({ action: 'ListAccessKeys', params: { TargetUin: 'abc' } })), 'InvalidParameter');
  assert.equal(errorCode(await api({ action: 'ListAccessKeys', params: { TargetUin: -5 } })), 'InvalidParameter');
  assert.equal(errorCode(await api({ action: 'UpdateAccessKey', params: { Status: 'Active' } })), 'MissingParameter');
  assert.equal(errorCode(await api({ action: 'UpdateAccessKey', params: { AccessKeyId: key.SecretId, Status: 'Sleeping' } })), 'InvalidParameterValue');
  assert.equal(errorCode(await api({ action: 'GetUserAppId', params: { Bogus: 1 } })), 'UnknownParameter');
  // numbers sent as strings are accepted, as the documentation's examples do
  assert.equal(errorCode(await api({ action: 'ListAccessKeys', params: { TargetUin: String(uin) } })), undefined);
});

test('a body over the 1 MiB ceiling gets 413 and no 5xx', async () => {
  const big = JSON.stringify({ Description: 'x'.repeat(1100 * 1024) });
  const r = await api({ action: 'CreateAccessKey', rawBody: big });
  assert.equal(r.status, 413);
  assert.equal(errorCode(r), 'RequestSizeLimitExceeded');
});

test('the GET form of the API works and is verified over the raw query', async () => {
  const r = await api({ action: 'ListAccessKeys', method: 'GET', params: { TargetUin: String(uin) } });
  assert.equal(errorCode(r), undefined, JSON.stringify(r.body));
  assert.equal(r.body.Response.AccessKeys.length, 1);
});

test('key life cycle: third key refused, disabled key refused, deleted key gone', async () => {
  const cam = camClient(key.SecretId, key.SecretKey);
  const created = await cam.CreateAccessKey({ Description: 'ci-key' });
  assert.match(created.AccessKey.AccessKeyId, /^AKID[A-Za-z0-9]{32}$/);
  assert.equal(created.AccessKey.SecretAccessKey.length, 32);
  assert.equal(created.AccessKey.Status, 'Active');
  await assert.rejects(cam.CreateAccessKey({}), { code: 'OperationDenied.AccessKeyOverLimit' });

  const second = camClient(created.AccessKey.AccessKeyId, created.AccessKey.SecretAccessKey);
  assert.equal((await second.GetUserAppId({})).Uin, uin);
  await cam.UpdateAccessKey({ AccessKeyId: created.AccessKey.AccessKeyId, Status: 'Inactive' });
  await assert.rejects(second.GetUserAppId({}), { code: 'AuthFailure.SecretIdNotFound' });
  await cam.UpdateAccessKey({ AccessKeyId: created.AccessKey.AccessKeyId, Status: 'Active' });
  assert.equal((await second.GetUserAppId({})).Uin, uin);
  await cam.DeleteAccessKey({ AccessKeyId: created.AccessKey.AccessKeyId });
  await assert.rejects(second.GetUserAppId({}), { code: 'AuthFailure.SecretIdNotFound' });
  await assert.rejects(cam.DeleteAccessKey({ AccessKeyId: created.AccessKey.AccessKeyId }), { code: 'ResourceNotFound.SecretNotExist' });
  await assert.rejects(cam.ListAccessKeys({ TargetUin: 100000000001 }), { code: 'InvalidParameter.UserNotExist' });
});

test("another account's key cannot touch this account's keys", async () => {
  const otherUin = await srv.adminCreateAccount('api-other@example.com', 'another good password');
  const otherKey = await srv.adminCreateAccessKey(otherUin);
  const other = camClient(otherKey.SecretId, otherKey.SecretKey);
  await assert.rejects(other.UpdateAccessKey({ AccessKeyId: key.SecretId, Status: 'Inactive' }), { code: 'ResourceNotFound.SecretNotExist' });
  await assert.rejects(other.ListAccessKeys({ TargetUin: Number(uin) }), { code: 'InvalidParameter.UserNotExist' });
  assert.equal((await camClient(key.SecretId, key.SecretKey).GetUserAppId({})).Uin, uin);
});

test('the console reaches the same actions through the session, with CSRF', async () => {
  const c = new ConsoleClient(srv.url);
  const login = await c.login('api-owner@example.com', 'correct horse battery');
  assert.equal(login.body.Response.Uin, uin);
  const who = await c.call('GetUserAppId');
  assert.equal(who.body.Response.Uin, uin);
  const noCsrf = await c.request('/console/api', {}, { 'X-TC-Action': 'GetUserAppId', 'X-CSRF-Token': '' });
  assert.equal(noCsrf.body.Response.Error.Code, 'AuthFailure.CsrfTokenInvalid');
  const anon = new ConsoleClient(srv.url);
  const r = await anon.call('GetUserAppId');
  assert.equal(r.body.Response.Error.Code, 'AuthFailure.SessionInvalid');
});
