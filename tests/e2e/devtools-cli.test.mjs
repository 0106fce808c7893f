// The developer CLI end to end (issues 7 and 8, docs/devtools.md "CLI:
// environments, uploads, deploys"): the real `bindery` binary as child
// processes, logged in through the device flow (approved through the
// console API), against `bindery serve` wired to the WeChat emulator, whose
// deployer runs the uploaded Node.js apps in the bubblewrap sandbox.
//
// Issue 7: env create → upload → version 1; one changed file → version 2
// sends exactly one blob; a deleted file → version 3 lacks it; the console
// link works once; a revoked link blocks env create and upload with the
// re-authorize hint. Issue 8: deploy → the app's reply through the proxy;
// a new version switches with 0 failed requests; rollback; entry missing,
// crash at start, never healthy (each with its step, code and output, the
// previous version still serving); concurrent deploys; cancel; the server
// SIGKILLed mid-deploy and restarted on the same data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile, symlink, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './lib/harness.mjs';
import {
  COMPONENT, startStack, WebClient, newApp, linkApp, linksOf, sql, sqlCount, waitFor, sleep,
} from './lib/stack.mjs';

const PW = 'a devtools cli password 1';
const CODE_RE = /[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/;
// Short deploy time-outs so that the failures happen within a test.
const STACK_ENV = {
  BINDERY_TOOLS_POLL_INTERVAL: '1',
  BINDERY_DEPLOY_HEALTH_TIMEOUT_MS: '2500',
  BINDERY_DEPLOY_START_TIMEOUT_MS: '8000',
  BINDERY_DEPLOY_DRAIN_GRACE_MS: '2000',
  BINDERY_DEPLOY_LEASE_MS: '3000',
};
let S;
let sandboxEnv = {};
const temps = [];
let seq = 0;

async function tmp(prefix) {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

// The stack, sandboxed with bubblewrap when this kernel lets it run; else
// (said loudly) with deploy.allow_unsandboxed.
async function startDeployStack(name) {
  let stack = await startStack({ name, env: { ...STACK_ENV, ...sandboxEnv } });
  const h = await (await fetch(`${stack.url}/healthz`)).json();
  if (h.sandbox !== 'bwrap' && !sandboxEnv.BINDERY_DEPLOY_ALLOW_UNSANDBOXED) {
    console.log(`# SANDBOX UNAVAILABLE (${h.sandbox_reason}): the deploy tests run with deploy.allow_unsandboxed`);
    await stack.stop();
    sandboxEnv = { BINDERY_DEPLOY_ALLOW_UNSANDBOXED: 'true' };
    stack = await startStack({ name, env: { ...STACK_ENV, ...sandboxEnv } });
  }
  return stack;
}

before(async () => { S = await startDeployStack('devcli'); });
after(async () => {
  if (S) assert.equal(await S.stop(), 0);
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

function cliEnv(home) {
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  delete env.BINDERY_SERVER;
  return env;
}

// Starts the CLI: { proc, out, done } (done resolves { code, stdout, stderr }).
function startCli(home, args) {
  const proc = spawn(BIN, args, { env: cliEnv(home), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d) => { out.stdout += d; });
  proc.stderr.on('data', (d) => { out.stderr += d; });
  const done = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, ...out })));
  return { proc, out, done };
}

const cli = (home, args) => startCli(home, args).done;

async function cliJson(home, args) {
  const r = await cli(home, [...args, '--json']);
  assert.equal(r.code, 0, `bindery ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// A signed-up account with a linked mini program and a logged-in CLI.
async function developer(stack = S) {
  seq += 1;
  const web = new WebClient(stack.url);
  const r = await web.signup(`cli${seq}.${Date.now()}@example.com`, PW);
  assert.equal(r.error, undefined, JSON.stringify(r.body));
  const app = await newApp(stack.ctl, { kind: 'mp' });
  const l = await linkApp(stack, web, app);
  assert.equal(l.error, undefined, JSON.stringify(l.body));
  const home = await tmp('bindery-cli-home-');
  const login = startCli(home, ['login', '--server', stack.url, '--no-qr']);
  const code = await waitFor(() => { const m = CODE_RE.exec(login.out.stdout); return m && m[0]; }, { what: 'the user code' });
  const ok = await web.call('ApproveDeviceAuthorization', { UserCode: code });
  assert.equal(ok.resp.Result, 'Approved', JSON.stringify(ok.body));
  const res = await login.done;
  assert.equal(res.code, 0, res.stderr);
  return { web, uin: r.resp.Uin, app, home };
}

async function createEnv(dev, extra = []) {
  const r = await cli(dev.home, ['env', 'create', '--app', dev.app.appid, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  const m = /Environment (\S+) \(app/.exec(r.stdout);
  assert.ok(m, r.stdout);
  return { envId: m[1], out: r.stdout };
}

// A directory with files { path: content }.
async function tree(files) {
  const dir = await tmp('bindery-cli-tree-');
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

// A small Node.js backend: answers `reply` on every path, /healthz with
// `health`; listens after `delayMs`; exits with 3 at start when `crash`.
function nodeApp({ reply, health = 200, delayMs = 0, crash = false, banner = '' }) {
  return {
    'package.json': JSON.stringify({ name: 'sample', main: 'server.js' }),
    'lib/reply.js': `module.exports = ${JSON.stringify(reply)};\n`,
    'server.js': `const http = require('http');
const reply = require('./lib/reply.js');
${crash ? "console.error('boom: DATABASE_URL is not set'); process.exit(3);" : ''}
console.log(${JSON.stringify(banner || `starting ${reply}`)});
const srv = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(${health}); res.end('health'); return; }
  if (req.url.startsWith('/log/')) console.log('hit ' + req.url);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(reply);
});
setTimeout(() => srv.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1',
  () => console.log('listening on ' + process.env.PORT)), ${delayMs});
`,
    'static/readme.txt': 'a file that never changes\n',
  };
}

async function replyOf(envId, stack = S) {
  const res = await fetch(`${stack.url}/env/${envId}/`);
  return { status: res.status, text: await res.text() };
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

// ---- issue 7 ------------------------------------------------------------------

test('issue 7: login → env create → upload v1; one changed file sends one blob (v2); a deleted file is gone (v3)', async () => {
  const dev = await developer();
  // env create waits through the long-poll and shows the steps
  const { envId, out } = await createEnv(dev, ['--name', 'web']);
  assert.match(envId, /^web-[a-z2-7]{6}$/);
  assert.match(out, /PROVISIONING/);
  for (const step of ['create_dirs', 'allocate_port', 'write_config', 'mark_ready']) assert.match(out, new RegExp(`step ${step}\\s+done`));
  assert.match(out, /READY/);
  const list = await cliJson(dev.home, ['env', 'list']);
  assert.deepEqual(list.map((e) => [e.EnvId, e.State, e.AppId]), [[envId, 'READY', dev.app.appid]]);
  const table = await cli(dev.home, ['env', 'list', '--app', dev.app.appid]);
  assert.match(table.stdout, new RegExp(`${envId}\\s+${dev.app.appid}\\s+web\\s+READY`));

  const files = {
    ...nodeApp({ reply: 'hello v1' }),
    'public/a.txt': 'A\n', 'public/b.txt': 'B\n', 'public/same1.txt': 'same\n', 'public/same2.txt': 'same\n',
    '.git/HEAD': 'ref: refs/heads/main\n', 'secret.env': 'TOKEN=x\n', '.binderyignore': '# local only\nsecret.env\ntmp/\n',
    'tmp/cache.bin': 'cache',
  };
  const dir = await tree(files);
  const blobs0 = sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs');
  // v1: the default env (the account has exactly one), runtime from package.json
  const v1 = await cliJson(dev.home, ['upload', dir, '--message', 'first']);
  assert.equal(v1.EnvId, envId);
  assert.equal(v1.Version, 1);
  assert.equal(v1.Runtime, 'nodejs');
  assert.equal(v1.Entry, 'server.js');
  // .git, secret.env and tmp/ are left out; .binderyignore itself is a file
  assert.equal(v1.FileCount, 9);
  assert.equal(v1.IgnoredEntries, 3);
  const distinct = new Set(Object.entries(files).filter(([p]) => !/^(\.git|tmp)\/|^secret\.env$/.test(p)).map(([, c]) => sha(c)));
  assert.equal(v1.SentBlobs, distinct.size, 'identical files are one blob');
  assert.equal(sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs') - blobs0, distinct.size);
  // v2: one file changed → exactly one blob sent and stored
  await writeFile(join(dir, 'public/a.txt'), 'A changed\n');
  const before2 = sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs');
  const v2 = await cliJson(dev.home, ['upload', dir, '--env', envId]);
  assert.equal(v2.Version, 2);
  assert.equal(v2.SentBlobs, 1);
  assert.equal(v2.SentBytes, 'A changed\n'.length);
  assert.equal(v2.UnchangedFiles, 8);
  assert.equal(sqlCount(S.srv, 'SELECT COUNT(*) FROM blobs') - before2, 1);
  assert.equal(v2.Runtime, 'nodejs', 'runtime and entry kept from the previous version');
  // v3: a deleted file is not in the version (no merge-only uploads)
  await unlink(join(dir, 'public/b.txt'));
  const v3 = await cliJson(dev.home, ['upload', dir]);
  assert.equal(v3.Version, 3);
  assert.equal(v3.SentBlobs, 0);
  assert.equal(v3.FileCount, 8);
  const paths = (v) => sql(S.srv, `SELECT path FROM version_files WHERE env_id = '${envId}' AND version = ${v} ORDER BY path`).map((r) => r[0]);
  assert.ok(paths(2).includes('public/b.txt'));
  assert.ok(!paths(3).includes('public/b.txt'));
  assert.ok(!paths(3).some((p) => p.startsWith('.git') || p === 'secret.env' || p.startsWith('tmp/')));
  // versions lists them newest first
  const vs = await cliJson(dev.home, ['versions']);
  assert.deepEqual(vs.map((v) => v.Version), [3, 2, 1]);
  assert.equal(vs[2].Description, 'first');
  const text = await cli(dev.home, ['versions', '--env', envId]);
  assert.match(text.stdout, /^\s+3\s+nodejs\s+server\.js\s+8\b/m);
  // the plain output says what was sent
  await writeFile(join(dir, 'public/a.txt'), 'A again\n');
  const plain = await cli(dev.home, ['upload', dir]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /Version 4 of .*: 8 files/);
  assert.match(plain.stdout, /Sent 1 new blob \(8 bytes\); 7 files unchanged/);
});

test('upload refuses symlinks and devices by name, bad flags and an unknown env; a second env needs --env', async () => {
  const dev = await developer();
  const { envId } = await createEnv(dev);
  const dir = await tree(nodeApp({ reply: 'x' }));
  await symlink('/etc/passwd', join(dir, 'lib', 'passwd'));
  const r = await cli(dev.home, ['upload', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /lib\/passwd is a symbolic link: only regular files are uploaded/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${envId}'`), 0, 'nothing was sent');
  // no runtime to guess (and no previous version to follow)
  const noEntry = await cli(dev.home, ['upload', await tree({ 'data.bin': 'x' })]);
  assert.equal(noEntry.code, 1);
  assert.match(noEntry.stderr, /pass --runtime \(nodejs, python3 or exec\) and --entry FILE/);
  // listed in .binderyignore, it is skipped
  await writeFile(join(dir, '.binderyignore'), 'lib/passwd\n');
  assert.equal((await cliJson(dev.home, ['upload', dir])).Version, 1);
  const nothing = await cli(dev.home, ['upload', await tree({})]);
  assert.equal(nothing.code, 1);
  assert.match(nothing.stderr, /has no file to upload/);
  const badEntry = await cli(dev.home, ['upload', dir, '--entry', 'missing.js']);
  assert.equal(badEntry.code, 1);
  assert.match(badEntry.stderr, /InvalidParameter.Manifest: Entry missing.js: missing.js is not a file of the upload/);
  const badRuntime = await cli(dev.home, ['upload', dir, '--runtime', 'ruby', '--entry', 'server.js']);
  assert.equal(badRuntime.code, 1);
  assert.match(badRuntime.stderr, /ruby/);
  const usage = await cli(dev.home, ['upload', dir, '--bogus']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown option '--bogus'/);
  const help = await cli(dev.home, ['upload', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: bindery upload/);
  const unknown = await cli(dev.home, ['upload', dir, '--env', 'dev-zzzzzz']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /ResourceNotFound.Environment/);
  // with two environments the CLI asks which, listing them
  const second = await createEnv(dev, ['--name', 'prod']);
  const which = await cli(dev.home, ['upload', dir]);
  assert.equal(which.code, 1);
  assert.match(which.stderr, /this account has 2 environments; choose one with --env/);
  assert.ok(which.stderr.includes(envId) && which.stderr.includes(second.envId), which.stderr);
  // env show, env delete
  const show = await cli(dev.home, ['env', 'show', second.envId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /State\s+READY/);
  assert.match(show.stdout, new RegExp(`URL\\s+${S.url}/env/${second.envId}/`));
  const del = await cli(dev.home, ['env', 'delete', second.envId]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, new RegExp(`${second.envId}: DELET(ED|ING)`));
  await waitFor(() => sqlCount(S.srv, `SELECT COUNT(*) FROM envs WHERE env_id = '${second.envId}'`) === 0, { what: 'the env gone' });
});

test('env create retries with its ClientToken: the same key answers the same env', async () => {
  const dev = await developer();
  const a = await createEnv(dev, ['--client-token', 'ci-run-42']);
  const b = await cli(dev.home, ['env', 'create', '--app', dev.app.appid, '--client-token', 'ci-run-42']);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`Environment ${a.envId} \\(app ${dev.app.appid}\\), already requested`));
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM envs WHERE appid = '${dev.app.appid}'`), 1);
  const missing = await cli(dev.home, ['env', 'create']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--app APPID is required/);
});

test('console link works once; a revoked link blocks env create and upload with the re-authorize hint', async () => {
  const dev = await developer();
  const { envId } = await createEnv(dev);
  const c = await cli(dev.home, ['console', '--print']);
  assert.equal(c.code, 0, c.stderr);
  const url = /(http:\/\/\S+\/console\/signin\?c=\S+)/.exec(c.stdout)[1];
  const first = await fetch(url, { redirect: 'manual' });
  assert.equal(first.status, 303);
  assert.equal(first.headers.get('location'), '/account');
  const again = await fetch(url, { redirect: 'manual' });
  assert.match(again.headers.get('location'), /\/console\/signin\/failed/);

  await S.ctl.stopAuthorization(dev.app.wxid, dev.app.appid, COMPONENT.component_appid);
  await waitFor(async () => ((await linksOf(dev.web))[dev.app.appid] || {}).State === 'revoked', { what: 'revoked' });
  const create = await cli(dev.home, ['env', 'create', '--app', dev.app.appid, '--name', 'again']);
  assert.equal(create.code, 1);
  assert.match(create.stderr, /FailedOperation.WechatAuthorizationRevoked: .*re-authorize/);
  const up = await cli(dev.home, ['upload', await tree(nodeApp({ reply: 'x' })), '--env', envId]);
  assert.equal(up.code, 1);
  assert.match(up.stderr, /FailedOperation.WechatAuthorizationRevoked: .*re-authorize/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM uploads WHERE env_id = '${envId}'`), 0);
});

// ---- issue 8 ------------------------------------------------------------------

// Requests in a loop (two at a time) until stopped: counts answers by body
// and every failure (network error or non-200).
function clientLoop(envId, stack = S) {
  const seen = new Map();
  const failures = [];
  let running = true;
  let total = 0;
  const one = async () => {
    while (running) {
      try {
        const res = await fetch(`${stack.url}/env/${envId}/loop`);
        const text = await res.text();
        total += 1;
        if (res.status !== 200) failures.push(`${res.status} ${text.slice(0, 80)}`);
        else seen.set(text, (seen.get(text) || 0) + 1);
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const workers = [one(), one()];
  return {
    seen, failures,
    stop: async () => { running = false; await Promise.all(workers); return total; },
  };
}

let D; // the deploy developer: { dev, envId, dirs }

test('issue 8: deploy → reply through the proxy; a new version switches with 0 failed requests; rollback', async () => {
  const dev = await developer();
  const { envId } = await createEnv(dev);
  const d1 = await tree(nodeApp({ reply: 'reply v1' }));
  const r1 = await cli(dev.home, ['deploy', d1]);
  assert.equal(r1.code, 0, r1.stderr + r1.stdout);
  assert.match(r1.stdout, /Uploaded version 1/);
  for (const step of ['VALIDATE', 'MATERIALIZE', 'START', 'HEALTHCHECK', 'SWITCH']) assert.match(r1.stdout, new RegExp(`\\d\\d:\\d\\d:\\d\\d ${step}`));
  assert.match(r1.stdout, new RegExp(`Version 1 of ${envId} is live .*${S.url}/env/${envId}/`));
  assert.deepEqual(await replyOf(envId), { status: 200, text: 'reply v1' });

  // a new version under a client loop: no failed request
  const d2 = await tree(nodeApp({ reply: 'reply v2' }));
  const loop = clientLoop(envId);
  await sleep(300);
  const r2 = await cli(dev.home, ['deploy', d2, '--env', envId]);
  await sleep(300);
  const total = await loop.stop();
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(loop.failures, [], `failed requests during the switch (of ${total})`);
  assert.ok(loop.seen.get('reply v1') > 0 && loop.seen.get('reply v2') > 0, JSON.stringify([...loop.seen]));
  console.log(`# switch v1 → v2: ${total} requests, ${loop.failures.length} failed`);
  assert.equal((await replyOf(envId)).text, 'reply v2');

  // rollback: the old reply again, recorded as a new deploy
  const rb = await cli(dev.home, ['rollback']);
  assert.equal(rb.code, 0, rb.stderr);
  assert.match(rb.stdout, new RegExp(`rollback dep-\\S+ of ${envId}`));
  assert.match(rb.stdout, new RegExp(`Version 1 of ${envId} is live \\(rollback`));
  assert.equal((await replyOf(envId)).text, 'reply v1');
  const kinds = sql(S.srv, `SELECT kind, to_version_n, state FROM deploys WHERE env_id = '${envId}' ORDER BY created_at, id`);
  assert.deepEqual(kinds.map((k) => k.join(' ')), ['deploy 1 SUCCEEDED', 'deploy 2 SUCCEEDED', 'rollback 1 SUCCEEDED']);
  // --version deploys an existing version without uploading
  const again = await cli(dev.home, ['deploy', '--version', '2']);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /Uploaded/);
  assert.equal((await replyOf(envId)).text, 'reply v2');
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM versions WHERE env_id = '${envId}'`), 2);
  D = { dev, envId };
});

test('failures: entry missing, exits at start, never healthy — each names its step, code and output; the previous version serves', async () => {
  assert.ok(D, 'needs the deploy test before');
  const { dev, envId } = D;
  const live = async () => assert.deepEqual(await replyOf(envId), { status: 200, text: 'reply v2' });
  // An entry that is not in the upload is refused before any version
  // exists (CommitUpload), so no deploy starts.
  const deploys0 = sqlCount(S.srv, `SELECT COUNT(*) FROM deploys WHERE env_id = '${envId}'`);
  const noFile = await cli(dev.home, ['deploy', await tree(nodeApp({ reply: 'never' })), '--entry', 'nope.js']);
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /Entry nope\.js: nope\.js is not a file of the upload/);
  assert.equal(sqlCount(S.srv, `SELECT COUNT(*) FROM deploys WHERE env_id = '${envId}'`), deploys0);
  // (ENTRY_NOT_FOUND at VALIDATE needs a version without its entry file,
  // which CommitUpload never makes, as above; test_deploy_job.c reaches it
  // with a directory source.)
  // START_CRASHED with the app's output
  const crash = await cli(dev.home, ['deploy', await tree(nodeApp({ reply: 'crash', crash: true })), '--runtime', 'nodejs', '--entry', 'server.js']);
  assert.equal(crash.code, 1, crash.stdout);
  assert.match(crash.stderr, /FAILED at step START: START_CRASHED/);
  assert.match(crash.stderr, /exited with code 3/);
  assert.match(crash.stderr, /boom: DATABASE_URL is not set/);
  await live();
  // HEALTHCHECK_TIMEOUT: listening, but /healthz answers 500
  const sick = await cli(dev.home, ['deploy', await tree(nodeApp({ reply: 'sick', health: 500, banner: 'sick app up' }))]);
  assert.equal(sick.code, 1, sick.stdout);
  assert.match(sick.stderr, /FAILED at step HEALTHCHECK: HEALTHCHECK_TIMEOUT/);
  assert.match(sick.stderr, /500/);
  assert.match(sick.stderr, /sick app up/);
  await live();
  const show = await cliJson(dev.home, ['env', 'show', envId]);
  assert.equal(show.Runtime.LiveVersion, 2);
  assert.equal(show.LastDeploy.ErrorCode, 'HEALTHCHECK_TIMEOUT');
  assert.equal(show.Runtime.Process.State, 'RUNNING');
});

test('concurrent deploys: one conflict; cancel mid-deploy: CANCELED, the old version serves', async () => {
  const { dev, envId } = D;
  // a version that takes 4 s to listen keeps a deploy running
  const slow = await cliJson(dev.home, ['upload', await tree(nodeApp({ reply: 'slow', delayMs: 4000 }))]);
  const [a, b] = await Promise.all([
    cli(dev.home, ['deploy', '--version', String(slow.Version)]),
    cli(dev.home, ['deploy', '--version', String(slow.Version)]),
  ]);
  const conflicts = [a, b].filter((r) => /ResourceInUse\.Deploy/.test(r.stderr));
  assert.equal(conflicts.length, 1, `${a.stderr}\n${b.stderr}`);
  assert.equal(conflicts[0].code, 1);
  assert.match(conflicts[0].stderr, /deploy dep-\S+ is running for environment/);
  const winner = a === conflicts[0] ? b : a;
  assert.equal(winner.code, 0, winner.stderr);
  assert.equal((await replyOf(envId)).text, 'slow');
  // cancel: back to v2, then a deploy of the slow version is canceled in START
  const back = await cli(dev.home, ['deploy', '--version', '2']);
  assert.equal(back.code, 0, back.stderr);
  const depSlow = startCli(dev.home, ['deploy', '--version', String(slow.Version)]);
  await waitFor(() => /\d START /.test(depSlow.out.stdout), { what: 'the START step', timeout: 15000 });
  const cancel = await cli(dev.home, ['deploy', 'cancel', '--env', envId]);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.match(cancel.stdout, /Canceled dep-\S+ at step START; version 2 still serves/);
  const canceled = await depSlow.done;
  assert.equal(canceled.code, 1);
  assert.match(canceled.stderr, /CANCELED at step START: CANCELED/);
  assert.equal((await replyOf(envId)).text, 'reply v2');
  const none = await cli(dev.home, ['deploy', 'cancel']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no deploy is running in/);
});

test('logs, logs --follow, env show --wait, restart and stop', async () => {
  const { dev, envId } = D;
  const logs = await cli(dev.home, ['logs']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /stdout pid=\d+ v=2 listening on \d+/);
  const tail = await cli(dev.home, ['logs', '--tail', '1']);
  assert.equal(tail.stdout.trim().split('\n').length, 1);
  const follow = startCli(dev.home, ['logs', '--follow', '--env', envId]);
  await sleep(1000);
  await fetch(`${S.url}/env/${envId}/log/marker-42`);
  await waitFor(() => /hit \/log\/marker-42/.test(follow.out.stdout), { what: 'the followed line', timeout: 10000 });
  follow.proc.kill('SIGINT');
  await follow.done;
  // env show --wait returns at the next change: a restart
  const show0 = await cliJson(dev.home, ['env', 'show', envId]);
  const waiter = startCli(dev.home, ['env', 'show', envId, '--wait', '--json']);
  await sleep(1500);
  assert.equal(waiter.proc.exitCode, null, 'env show --wait waits');
  const rs = await cli(dev.home, ['restart']);
  assert.equal(rs.code, 0, rs.stderr);
  const w = await waiter.done;
  assert.equal(w.code, 0, w.stderr);
  const shown = w.stdout.split(/\n(?=\{)/).map((s) => JSON.parse(s));
  assert.equal(shown.length, 2);
  assert.equal(shown[0].LastDeploy.DeployId, show0.LastDeploy.DeployId);
  assert.equal(shown[1].LastDeploy.Kind, 'restart', 'the change it saw is the restart job');
  const after = await cliJson(dev.home, ['env', 'show']);
  assert.notEqual(after.Runtime.Process.Pid, show0.Runtime.Process.Pid, 'a new process');
  assert.equal((await replyOf(envId)).text, 'reply v2');
  const st = await cli(dev.home, ['stop']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /Stopped/);
  assert.equal((await replyOf(envId)).status, 503);
});

test('server SIGKILLed mid-deploy and restarted on the same data: the job is failed, the old version serves again', async () => {
  const K = await startDeployStack('devclikill');
  const srv = K.srv;
  let again;
  try {
    const dev = await developer(K);
    const { envId } = await createEnv(dev);
    const ok = await cli(dev.home, ['deploy', await tree(nodeApp({ reply: 'kept' }))]);
    assert.equal(ok.code, 0, ok.stderr);
    const dep = startCli(dev.home, ['deploy', await tree(nodeApp({ reply: 'lost', delayMs: 6000 }))]);
    await waitFor(() => /\d START /.test(dep.out.stdout), { what: 'the START step', timeout: 15000 });
    srv.proc.kill('SIGKILL');
    const r = await dep.done;
    assert.notEqual(r.code, 0);
    // the same data directory, store, keys and port
    again = spawn(BIN, ['serve', '--data-dir', srv.dataDir, '--listen', `127.0.0.1:${srv.port}`], {
      env: srv.env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    again.stderr.on('data', (d) => { log += d; });
    again.stdout.on('data', (d) => { log += d; });
    await waitFor(() => /listening on/.test(log), { what: `the restarted server:\n${log}`, timeout: 15000 });
    await waitFor(async () => (await replyOf(envId, K)).text === 'kept', { what: 'the old version back', timeout: 20000 });
    const job = await waitFor(() => {
      const rows = sql(srv, `SELECT state, error_code FROM deploys WHERE env_id = '${envId}' AND to_version_n = 2`);
      return rows.length && rows[0][0] !== 'RUNNING' && rows[0];
    }, { what: 'the job marked', timeout: 20000 });
    assert.deepEqual(job, ['FAILED', 'SERVER_LOST']);
    const show = await cliJson(dev.home, ['env', 'show', envId]);
    assert.equal(show.Runtime.LiveVersion, 1);
    assert.equal(show.LastDeploy.ErrorCode, 'SERVER_LOST');
  } finally {
    if (again && again.exitCode === null) {
      const exited = new Promise((res) => again.once('exit', res));
      again.kill('SIGTERM');
      await exited;
    }
    await K.emu.stop();
    await rm(srv.dataDir, { recursive: true, force: true });
  }
});
