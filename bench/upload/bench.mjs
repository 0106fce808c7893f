// Driver of bench/upload/run.sh: starts `bindery serve` wired to the WeChat
// emulator (tests/e2e/lib/stack.mjs), signs up, links a mini program, logs
// the CLI in through the device flow, creates an environment, then times
// the CLI. Environment: FILES (5000), SIZE (10240), DIRS (50), RUNS (10).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN } from '../../tests/e2e/lib/harness.mjs';
import { startStack, WebClient, newApp, linkApp, sql, waitFor } from '../../tests/e2e/lib/stack.mjs';

const FILES = Number(process.env.FILES || 5000);
const SIZE = Number(process.env.SIZE || 10240);
const DIRS = Number(process.env.DIRS || 50);
const RUNS = Number(process.env.RUNS || 10);

function run(home, args) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
    const p = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`bindery ${args.join(' ')}: ${stderr}`))));
  });
}

async function timed(fn) {
  const t0 = performance.now();
  const v = await fn();
  return { ms: performance.now() - t0, v };
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

const work = await mkdtemp(join(os.tmpdir(), 'bindery-bench-upload-'));
const S = await startStack({ name: 'benchupload', env: { BINDERY_TOOLS_POLL_INTERVAL: '1' } });
try {
  const web = new WebClient(S.url);
  await web.signup(`bench${Date.now()}@example.com`, 'a bench password 1');
  const app = await newApp(S.ctl, { kind: 'mp' });
  await linkApp(S, web, app);
  const home = join(work, 'home');
  await mkdir(home);
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config') };
  const login = spawn(BIN, ['login', '--server', S.url, '--no-qr'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  login.stdout.on('data', (d) => { out += d; });
  const code = await waitFor(() => { const m = /[A-Z]{4}-[A-Z]{4}/.exec(out); return m && m[0]; });
  await web.call('ApproveDeviceAuthorization', { UserCode: code });
  await new Promise((r) => login.on('exit', r));
  const created = await run(home, ['env', 'create', '--app', app.appid]);
  const envId = /Environment (\S+)/.exec(created)[1];

  const tree = join(work, 'tree');
  for (let i = 0; i < FILES; i++) {
    const d = join(tree, `d${String(i % DIRS).padStart(2, '0')}`);
    if (i < DIRS) await mkdir(d, { recursive: true });
    await writeFile(join(d, `f${String(i).padStart(5, '0')}.bin`), randomBytes(SIZE));
  }
  await writeFile(join(tree, 'server.js'), "require('http').createServer((q, s) => s.end('bench')).listen(Number(process.env.PORT), process.env.HOST);\n");
  console.log(`machine: ${os.cpus().length} cpu(s), ${os.cpus()[0].model}; node ${process.version}`);
  console.log(`tree: ${FILES} files × ${SIZE} bytes + server.js = ${((FILES * SIZE) / 1e6).toFixed(1)} MB in ${DIRS} directories`);
  const first = await timed(() => run(home, ['upload', tree, '--env', envId, '--json']));
  const f = JSON.parse(first.v);
  console.log(`first upload:  ${(first.ms / 1000).toFixed(2)} s, ${f.SentBlobs} blobs, ${(f.SentBytes / 1e6).toFixed(1)} MB sent → ${(f.SentBytes / 1e6 / (first.ms / 1000)).toFixed(1)} MB/s (version ${f.Version})`);
  const second = await timed(() => run(home, ['upload', tree, '--env', envId, '--json']));
  const s = JSON.parse(second.v);
  console.log(`second upload: ${(second.ms / 1000).toFixed(2)} s, ${s.SentBlobs} blobs sent, ${s.UnchangedFiles} files unchanged (version ${s.Version})`);

  // deploy time of the sample backend (a one-file app)
  const sample = join(work, 'sample');
  await mkdir(sample);
  await writeFile(join(sample, 'package.json'), JSON.stringify({ main: 'server.js' }));
  await writeFile(join(sample, 'server.js'), "const http = require('http');\nhttp.createServer((q, s) => { s.writeHead(200); s.end(q.url === '/healthz' ? 'ok' : 'sample'); }).listen(Number(process.env.PORT), process.env.HOST);\n");
  const v = JSON.parse(await run(home, ['upload', sample, '--env', envId, '--json'])).Version;
  const wall = [];
  for (let i = 0; i < RUNS; i++) wall.push((await timed(() => run(home, ['deploy', '--env', envId, '--version', String(v)]))).ms);
  const server = sql(S.srv, `SELECT finished_at - created_at FROM deploys WHERE env_id = '${envId}' AND state = 'SUCCEEDED' ORDER BY created_at`).map((r) => Number(r[0]));
  const sandbox = (await (await fetch(`${S.url}/healthz`)).json()).sandbox;
  console.log(`deploy (upload excluded), ${RUNS} runs, sandbox ${sandbox}: CreateDeploy → SUCCEEDED p50 ${pct(server, 0.5)} ms, max ${Math.max(...server)} ms; CLI wall time p50 ${pct(wall, 0.5).toFixed(0)} ms, max ${Math.max(...wall).toFixed(0)} ms`);
} finally {
  await S.stop();
  await rm(work, { recursive: true, force: true });
}
