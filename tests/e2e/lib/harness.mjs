// Starts the real bindery binary on loopback with a fresh data directory,
// for end-to-end tests. No part of Bindery is mocked.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = process.env.BINDERY_BIN || join(root, 'build', 'release', 'bindery');
export const WEB_DIR = join(root, 'web');

// Extra store configuration when the suite runs on PostgreSQL: a fresh
// database per server, created through the cluster's URL.
async function storeFor(name) {
  const base = process.env.BINDERY_E2E_PG_URL;
  if (!base) return {};
  const db = `e2e_${name}_${Math.random().toString(36).slice(2, 10)}`;
  const r = spawnSync('psql', [base, '-qAtc', `CREATE DATABASE ${db}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot create database ${db}: ${r.stderr}`);
  const url = new URL(base);
  url.pathname = `/${db}`;
  return { BINDERY_STORE: url.toString() };
}

export async function startServer({ env = {}, args = [], name = 'srv' } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'bindery-e2e-'));
  const storeEnv = await storeFor(name);
  const fullEnv = {
    ...process.env,
    BINDERY_WEB_DIR: WEB_DIR,
    BINDERY_LOG_ACCESS: 'false',
    ...storeEnv,
    ...env,
  };
  const proc = spawn(BIN, ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...args], {
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 15000);
    const onData = (chunk) => {
      log += chunk;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const adminEnv = { ...fullEnv };
  const admin = (argv, input) => {
    const r = spawnSync(BIN, ['admin', ...argv, '--data-dir', dataDir], {
      env: adminEnv, input, encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`bindery admin ${argv.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    url,
    port,
    dataDir,
    proc,
    env: fullEnv,
    log: () => log,
    admin,
    adminCreateAccount: async (email, password) => admin(['create-account', '--email', email, '--password-stdin'], `${password}\n`),
    adminCreateAccessKey: async (uin) => JSON.parse(admin(['create-access-key', '--account', String(uin)])),
    // Sends SIGTERM and waits for a clean exit; returns the exit code.
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
        proc.kill('SIGTERM');
        const code = await exited;
        await rm(dataDir, { recursive: true, force: true });
        // A clean shutdown exits 0; anything else (a sanitizer report, a
        // crash) fails the test that owned the server.
        if (code !== 0) throw new Error(`bindery serve exited with ${code}:\n${log.slice(-4000)}`);
        return code;
      }
      await rm(dataDir, { recursive: true, force: true });
      return proc.exitCode;
    },
  };
}

// POSTs JSON and returns { status, headers, body (parsed when JSON) }.
export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

// A console client that keeps the session cookie and the CSRF token.
export class ConsoleClient {
  constructor(base) {
    this.base = base;
    this.cookie = '';
    this.csrf = '';
  }
  async request(path, body, extraHeaders = {}) {
    const headers = { ...extraHeaders };
    if (this.cookie) headers.Cookie = this.cookie;
    if (this.csrf && !('X-CSRF-Token' in headers)) headers['X-CSRF-Token'] = this.csrf;
    const r = await postJson(this.base + path, body, headers);
    const set = r.headers.get('set-cookie');
    if (set) {
      const m = /bindery_session=([^;]*)/.exec(set);
      if (m) this.cookie = m[1] ? `bindery_session=${m[1]}` : '';
    }
    const resp = r.body && r.body.Response;
    if (resp && resp.CsrfToken) this.csrf = resp.CsrfToken;
    return r;
  }
  signup(email, password) { return this.request('/console/signup', { Email: email, Password: password }); }
  login(email, password) { return this.request('/console/login', { Email: email, Password: password }); }
  logout() { return this.request('/console/logout', {}); }
  call(action, params = {}) { return this.request('/console/api', params, { 'X-TC-Action': action }); }
  async session() {
    const res = await fetch(this.base + '/console/session', { headers: this.cookie ? { Cookie: this.cookie } : {} });
    return res.json();
  }
}
