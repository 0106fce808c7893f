// The archive (zip path) upload: CreateArchiveUpload → PUT the zip/tar(.gz)
// → CommitUpload unpacks it with libarchive into the same blob store and
// the same commit as a manifest upload (issue 7 §4, docs/environments.md
// "Archive uploads"). Every hostile archive is built here (lib/archive.mjs)
// and must be refused with a clear error and no version.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { callApi } from './lib/tc3.mjs';
import { zip, tar } from './lib/archive.mjs';
import {
  COMPONENT, startStack, WebClient, newApp, linkApp, linksOf, sqlCount, waitFor,
} from './lib/stack.mjs';

const PW = 'an archive password 1';
let S;
let seq = 0;
const email = () => `arch${++seq}.${Date.now()}@example.com`;
const sha = (b) => createHash('sha256').update(b).digest('hex');

before(async () => { S = await startStack({ name: 'envs_archive' }); });
after(async () => { if (S) assert.equal(await S.stop(), 0); });

async function owner(stack = S) {
  const web = new WebClient(stack.url);
  const r = await web.signup(email(), PW);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  const app = await newApp(stack.ctl, { kind: 'mp' });
  const l = await linkApp(stack, web, app);
  assert.equal(l.error, undefined, JSON.stringify(l.body));
  const key = await stack.srv.adminCreateAccessKey(r.resp.Uin);
  const call = async (action, params = {}) => (await callApi(stack.url, {
    action, version: '2026-11-01', params, secretId: key.SecretId, secretKey: key.SecretKey,
  })).body.Response;
  return { web, uin: r.resp.Uin, app, call, key, stack };
}

async function readyEnv(o) {
  const c = await o.call('CreateEnvironment', { AppId: o.app.appid });
  assert.equal(c.Error, undefined, JSON.stringify(c));
  let env = c.Environment;
  while (env.State === 'PROVISIONING') {
    env = (await o.call('DescribeEnvironment', { EnvId: c.EnvId, WaitSeq: env.StateSeq, WaitSeconds: 10 })).Environment;
  }
  assert.equal(env.State, 'READY');
  return env;
}

const put = (url, body, headers = {}) => fetch(url, { method: 'PUT', body, headers })
  .then(async (r) => ({ status: r.status, body: await r.json() }));

// CreateArchiveUpload + PUT; returns the upload and the PUT's answer.
async function sendArchive(o, envId, bytes, declared = {}) {
  const u = await o.call('CreateArchiveUpload', {
    EnvId: envId, Size: bytes.length, Sha256: sha(bytes), ...declared,
  });
  assert.equal(u.Error, undefined, JSON.stringify(u));
  const p = await put(u.Url, bytes);
  return { u, p };
}

const commit = (o, UploadId, Entry = 'app.js', Runtime = 'nodejs') => o.call('CommitUpload', { UploadId, Runtime, Entry });
const versionsOf = (srv, envId) => sqlCount(srv, `SELECT COUNT(*) FROM versions WHERE env_id = '${envId}'`);
const blobPath = (srv, h) => join(srv.dataDir, 'objects', 'sha256', h.slice(0, 2), h.slice(2, 4), h);

test('a zip becomes a version with its files and modes; the same tree again stores no new blob', async () => {
  const o = await owner();
  const env = await readyEnv(o);
  const files = {
    'app.js': 'console.log("zip")\n', 'lib/a.js': 'same', 'lib/b.js': 'same', '目录/文件.txt': '中文',
  };
  const bytes = zip([
    { name: 'lib/' },
    { name: 'app.js', data: files['app.js'], mode: 0o100755, deflate: true },
    { name: 'lib/a.js', data: files['lib/a.js'] },
    { name: 'lib/b.js', data: files['lib/b.js'], mode: 0o100600 },
    { name: '目录/文件.txt', data: files['目录/文件.txt'], deflate: true },
  ]);
  const { u, p } = await sendArchive(o, env.EnvId, bytes, { Description: 'from a zip' });
  assert.match(u.UploadId, /^up-[a-z2-7]{26}$/);
  assert.ok(u.Url.includes(`/v1/archives/${u.UploadId}?Expires=`), u.Url);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.Response.Size, bytes.length);
  const archiveFile = join(S.srv.dataDir, 'uploads', `${u.UploadId}.archive`);
  assert.ok(existsSync(archiveFile), 'the archive waits for the commit');
  const c = await commit(o, u.UploadId);
  assert.equal(c.Error, undefined, JSON.stringify(c));
  assert.equal(c.Version, 1);
  assert.equal(c.EnvId, env.EnvId);
  assert.ok(!existsSync(archiveFile), 'the archive is removed once committed');
  const v = (await o.call('DescribeVersion', { EnvId: env.EnvId, Version: 1 })).Version;
  assert.equal(v.Description, 'from a zip');
  assert.deepEqual(v.Files.map((f) => [f.Path, f.Size, f.Mode.toString(8), f.Sha256]), [
    ['app.js', Buffer.byteLength(files['app.js']), '755', sha(files['app.js'])],
    ['lib/a.js', 4, '644', sha('same')],
    ['lib/b.js', 4, '644', sha('same')],
    ['目录/文件.txt', Buffer.byteLength('中文'), '644', sha('中文')],
  ]);
  assert.equal(readFileSync(blobPath(S.srv, sha(files['app.js'])), 'utf8'), files['app.js']);
  assert.equal(statSync(blobPath(S.srv, sha('same'))).mode & 0o777, 0o444);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM audit_log WHERE action = 'deploy:CreateArchiveUpload' AND detail LIKE '${env.EnvId}%'`), 1);

  // the same tree again, now as a tar.gz with "./" names: version 2, no new blob rows
  const blobsBefore = sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs');
  const tgz = tar([
    { name: './', type: '5' },
    { name: './app.js', data: files['app.js'], mode: 0o755 },
    { name: './lib/', type: '5' },
    { name: './lib/a.js', data: 'same' },
    { name: './lib/b.js', data: 'same' },
    { name: Buffer.from('./目录/文件.txt'), data: '中文' },
  ], { gzip: true });
  const again = await sendArchive(o, env.EnvId, tgz);
  assert.equal(again.p.status, 200, JSON.stringify(again.p.body));
  const c2 = await commit(o, again.u.UploadId);
  assert.equal(c2.Version, 2, JSON.stringify(c2));
  assert.equal(sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs'), blobsBefore, 'every blob was already stored');
  const v2 = (await o.call('DescribeVersion', { EnvId: env.EnvId, Version: 2 })).Version;
  assert.equal(v2.ManifestHash, v.ManifestHash, 'the same tree has the same manifest hash');
  // a committed upload is closed: its URL and a second commit are refused
  assert.equal((await commit(o, u.UploadId)).Error.Code, 'FailedOperation.UploadCommitted');
  const replay = await put(u.Url, bytes);
  assert.equal(replay.status, 409);
  assert.equal(replay.body.Response.Error.Code, 'FailedOperation.UploadCommitted');
});

test('hostile archives are refused, each with a clear error, and make no version', async () => {
  const o = await owner();
  const env = await readyEnv(o);
  const app = { name: 'app.js', data: 'ok' };
  const cases = [
    ['zip-slip ../', zip([app, { name: '../evil.js', data: 'x' }]), 'InvalidParameter.Archive', /\.\.\/evil\.js.*'\.' or '\.\.'/],
    ['zip-slip inside', zip([app, { name: 'a/../../evil.js', data: 'x' }]), 'InvalidParameter.Archive', /'\.\.'/],
    ['absolute path', zip([app, { name: '/etc/cron.d/evil', data: 'x' }]), 'InvalidParameter.Archive', /absolute/],
    ['absolute path (tar)', tar([app, { name: '/abs', data: 'x' }]), 'InvalidParameter.Archive', /absolute/],
    ['symlink (zip)', zip([app, { name: 'passwd', data: '/etc/passwd', mode: 0o120777 }]), 'InvalidParameter.Archive', /passwd is a symbolic link/],
    ['symlink (tar)', tar([app, { name: 'up', type: '2', link: '../../..' }]), 'InvalidParameter.Archive', /symbolic link/],
    ['hard link (tar)', tar([app, { name: 'h', type: '1', link: 'app.js' }]), 'InvalidParameter.Archive', /h is a hard link/],
    ['device (tar)', tar([app, { name: 'tty', type: '3' }]), 'InvalidParameter.Archive', /tty is a character device/],
    ['FIFO (tar)', tar([app, { name: 'pipe', type: '6' }]), 'InvalidParameter.Archive', /FIFO/],
    ['duplicate names', zip([app, { name: 'x.js', data: '1' }, { name: 'x.js', data: '2' }]), 'InvalidParameter.Archive', /x\.js is listed twice/],
    ['file and directory', tar([app, { name: 'lib', data: '1' }, { name: 'lib/x.js', data: '2' }]), 'InvalidParameter.Archive', /both a file and the directory/],
    ['control character', zip([app, { name: 'a\u0001b.js', data: 'x' }]), 'InvalidParameter.Archive', /control character/],
    ['newline', tar([app, { name: 'a\nb', data: 'x' }]), 'InvalidParameter.Archive', /control character/],
    // libarchive reads a zip's '\\' as '/' (Windows tools): then it is a '..' component
    ['backslash zip-slip', zip([app, { name: '..\\evil.js', data: 'x' }]), 'InvalidParameter.Archive', /'\.\.'/],
    ['backslash (tar)', tar([app, { name: 'a\\b.js', data: 'x' }]), 'InvalidParameter.Archive', /backslash/],
    ['not UTF-8 (tar)', tar([app, { name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), data: 'x' }]), 'InvalidParameter.Archive', /not valid UTF-8/],
    ['not UTF-8 (zip, flagged UTF-8)', zip([app, { name: Buffer.from([0x63, 0x61, 0x66, 0xe9]), data: 'x' }]), 'InvalidParameter.Archive', /cannot be decoded/],
    ['not an archive', Buffer.from('just text, not a zip or a tar\n'.repeat(40)), 'InvalidParameter.Archive', /not a zip, tar or tar\.gz/],
    ['truncated zip', zip([app, { name: 'big.js', data: 'y'.repeat(5000), deflate: false }]).subarray(0, 3000), 'InvalidParameter.Archive', /./],
    ['corrupt deflate data', (() => {
      const z = zip([app, { name: 'c.js', data: 'z'.repeat(4000), deflate: true }]);
      const at = z.indexOf('c.js') + 4 + 2; // inside c.js's compressed bytes
      z[at] ^= 0xff; z[at + 1] ^= 0xff;
      return z;
    })(), 'InvalidParameter.Archive', /c\.js cannot be read/],
    ['only a directory', zip([{ name: 'empty/' }]), 'InvalidParameter.Archive', /no file/],
  ];
  for (const [what, bytes, code, msg] of cases) {
    const { u, p } = await sendArchive(o, env.EnvId, bytes);
    assert.equal(p.status, 200, `${what}: ${JSON.stringify(p.body)}`);
    const c = await commit(o, u.UploadId);
    assert.ok(c.Error, `${what} was accepted: ${JSON.stringify(c)}`);
    assert.equal(c.Error.Code, code, `${what}: ${c.Error.Message}`);
    assert.match(c.Error.Message, msg, what);
  }
  assert.equal(versionsOf(S.srv, env.EnvId), 0, 'no version from any of them');
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${env.EnvId}' AND state <> 'open'`), 0);
});

test('the entry file must be in the archive; the same upload commits once the Entry is right', async () => {
  const o = await owner();
  const env = await readyEnv(o);
  const { u, p } = await sendArchive(o, env.EnvId, zip([{ name: 'server.js', data: 'run()' }]));
  assert.equal(p.status, 200);
  const bad = await commit(o, u.UploadId, 'app.js');
  assert.equal(bad.Error.Code, 'InvalidParameter.Manifest');
  assert.match(bad.Error.Message, /app\.js is not a file of the upload/);
  assert.equal(versionsOf(S.srv, env.EnvId), 0);
  const exec = await commit(o, u.UploadId, './main --port 1', 'exec');
  assert.equal(exec.Error.Code, 'InvalidParameter.Manifest');
  const good = await commit(o, u.UploadId, 'server.js');
  assert.equal(good.Version, 1, JSON.stringify(good));
});

test('the PUT checks the declared SHA-256 and size; a commit before the archive is refused', async () => {
  const o = await owner();
  const env = await readyEnv(o);
  const bytes = zip([{ name: 'app.js', data: 'the real one' }]);
  const other = zip([{ name: 'app.js', data: 'another one!' }]);
  assert.equal(bytes.length, other.length);
  const u = await o.call('CreateArchiveUpload', { EnvId: env.EnvId, Size: bytes.length, Sha256: sha(bytes) });
  const early = await commit(o, u.UploadId);
  assert.equal(early.Error.Code, 'FailedOperation.BlobsMissing');
  assert.match(early.Error.Message, /archive has not been sent/);
  // other bytes of the same length: refused, nothing kept
  const wrong = await put(u.Url, other);
  assert.equal(wrong.status, 422);
  assert.equal(wrong.body.Response.Error.Code, 'InvalidParameter.DigestMismatch');
  assert.match(wrong.body.Response.Error.Message, /SHA-256/);
  assert.ok(!existsSync(join(S.srv.dataDir, 'uploads', `${u.UploadId}.archive`)));
  assert.equal((await commit(o, u.UploadId)).Error.Code, 'FailedOperation.BlobsMissing');
  // too long, too short
  assert.equal((await put(u.Url, Buffer.concat([bytes, Buffer.from('x')]))).status, 422);
  assert.equal((await put(u.Url, bytes.subarray(1))).status, 422);
  // a tampered signature, another upload's signature, no signature
  const url = new URL(u.Url);
  const s = url.searchParams.get('Signature');
  const tampered = new URL(url);
  tampered.searchParams.set('Signature', (s[0] === 'a' ? 'b' : 'a') + s.slice(1));
  assert.equal((await put(tampered, bytes)).body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  const v = await o.call('CreateArchiveUpload', { EnvId: env.EnvId, Size: bytes.length, Sha256: sha(bytes) });
  const swapped = new URL(url);
  swapped.pathname = url.pathname.replace(u.UploadId, v.UploadId);
  const sw = await put(swapped, bytes);
  assert.equal(sw.status, 403);
  assert.equal(sw.body.Response.Error.Code, 'AuthFailure.UploadUrlInvalid');
  const unsigned = new URL(url);
  unsigned.search = '';
  assert.equal((await put(unsigned, bytes)).status, 403);
  assert.equal((await put(`${S.url}/v1/archives/nonsense`, bytes)).status, 403);
  // the right bytes: accepted, committed
  assert.equal((await put(u.Url, bytes)).status, 200);
  assert.equal((await commit(o, u.UploadId)).Version, 1);
  // parameters are checked
  for (const [params, code] of [
    [{ Size: 10, Sha256: 'zz'.repeat(32) }, 'InvalidParameterValue'],
    [{ Size: 10, Sha256: 'ab' }, 'InvalidParameter'],
    [{ Size: 0, Sha256: sha(bytes) }, 'InvalidParameter'],
    [{ Size: 600 * 1024 * 1024, Sha256: sha(bytes) }, 'LimitExceeded.Archive'],
  ]) {
    const r = await o.call('CreateArchiveUpload', { EnvId: env.EnvId, ...params });
    assert.ok(r.Error, JSON.stringify(params));
    assert.ok(r.Error.Code.startsWith(code), `${JSON.stringify(params)}: ${r.Error.Code} ${r.Error.Message}`);
  }
  assert.equal((await o.call('CreateArchiveUpload', { EnvId: 'dev-aaaaaa', Size: 1, Sha256: sha('x') })).Error.Code, 'ResourceNotFound.Environment');
});

test('limits: file count, per-file size, total size and a compression bomb stop while reading', async () => {
  const T = await startStack({
    name: 'envs_archive_limits',
    env: { BINDERY_DEPLOY_MAX_FILES: '5', BINDERY_DEPLOY_MAX_BLOB_BYTES: '1000', BINDERY_DEPLOY_MAX_VERSION_BYTES: '3000' },
  });
  try {
    const o = await owner(T);
    const env = await readyEnv(o);
    const f = (i, size = 10) => ({ name: `f${i}.js`, data: 'x'.repeat(size) });
    // a bomb: 2 MiB of zeros deflate to about 2 KiB; told, and with headers that lie (10 bytes)
    const bomb = zip([{ name: 'app.js', data: Buffer.alloc(2 << 20), deflate: true }]);
    const liar = zip([{ name: 'app.js', data: Buffer.alloc(2 << 20), deflate: true, claim: 10 }]);
    assert.ok(bomb.length < 3000, `bomb is ${bomb.length} bytes`);
    const cases = [
      ['six files', zip([0, 1, 2, 3, 4, 5].map((i) => f(i))), /more than 5 files/],
      ['a file over max_blob_bytes', tar([f(0, 1001)]), /max_blob_bytes/],
      ['files over max_version_bytes', tar([f(0, 900), f(1, 900), f(2, 900), f(3, 900)], { gzip: true }), /max_version_bytes/],
      ['a compression bomb', bomb, /app\.js is 2097152 bytes \(at most 1000/],
      ['a bomb whose headers lie', liar, /app\.js expands to more than 1000 bytes/],
      ['many empty directories', zip(Array.from({ length: 11 }, (_, i) => ({ name: `d${i}/` }))), /more than 10 entries/],
    ];
    for (const [what, bytes, msg] of cases) {
      const { u, p } = await sendArchive(o, env.EnvId, bytes);
      assert.equal(p.status, 200, `${what}: ${JSON.stringify(p.body)}`);
      const c = await commit(o, u.UploadId, 'f0.js');
      assert.equal(c.Error && c.Error.Code, 'LimitExceeded.Archive', `${what}: ${JSON.stringify(c)}`);
      assert.match(c.Error.Message, msg, what);
    }
    // the archive itself over the limit is refused at creation
    const big = await o.call('CreateArchiveUpload', { EnvId: env.EnvId, Size: 3001, Sha256: sha('x') });
    assert.equal(big.Error.Code, 'LimitExceeded.Archive');
    assert.match(big.Error.Message, /3001 bytes \(at most 3000/);
    assert.equal(versionsOf(T.srv, env.EnvId), 0);
    // within every limit it works
    const ok = await sendArchive(o, env.EnvId, zip([0, 1, 2, 3, 4].map((i) => f(i, 500))));
    assert.equal((await commit(o, ok.u.UploadId, 'f0.js')).Version, 1);
  } finally {
    assert.equal(await T.stop(), 0);
  }
});

test('CAM: deploy:CreateArchiveUpload is required; a revoked link refuses like CreateUpload', async () => {
  const o = await owner();
  const env = await readyEnv(o);
  const camCall = async (action, params) => (await callApi(S.url, {
    action, version: '2019-01-16', params, secretId: o.key.SecretId, secretKey: o.key.SecretKey,
  })).body.Response;
  const sub = await camCall('AddUser', { Name: 'zipper', UseApi: 1 });
  assert.equal(sub.Error, undefined, JSON.stringify(sub));
  const asSub = async (action, params) => (await callApi(S.url, {
    action, version: '2026-11-01', params, secretId: sub.SecretId, secretKey: sub.SecretKey,
  })).body.Response;
  const params = { EnvId: env.EnvId, Size: 10, Sha256: sha('x') };
  const denied = await asSub('CreateArchiveUpload', params);
  assert.equal(denied.Error.Code, 'AuthFailure.UnauthorizedOperation');
  assert.match(denied.Error.Message, /deploy:CreateArchiveUpload/);
  assert.equal((await camCall('AttachUserPolicy', { PolicyId: 8, AttachUin: sub.Uin })).Error, undefined);
  const allowed = await asSub('CreateArchiveUpload', params);
  assert.equal(allowed.Error, undefined, JSON.stringify(allowed));

  await S.ctl.stopAuthorization(o.app.wxid, o.app.appid, COMPONENT.component_appid);
  await waitFor(async () => ((await linksOf(o.web))[o.app.appid] || {}).State === 'revoked', { what: 'revoked' });
  const before = sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${env.EnvId}'`);
  const r = await o.call('CreateArchiveUpload', params);
  assert.equal(r.Error.Code, 'FailedOperation.WechatAuthorizationRevoked');
  assert.match(r.Error.Message, /re-authorize/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${env.EnvId}'`), before);
});
