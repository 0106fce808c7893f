// Evaluates a gen.mjs workload with @cedar-policy/cedar-wasm and casbin,
// checks that both answer every request as Bindery did, and prints p50/p99
// per decision next to Bindery's figures with the ratios.
//
//   node compare.mjs WORKLOAD.json BINDERY_RESULT.json
//
// Each engine gets its fastest documented path: cedar's policy set is parsed
// once (preparsePolicySet) and requests go through statefulIsAuthorized;
// casbin's enforcer is built once and requests go through enforceSync.
// Decisions are timed one by one with process.hrtime.bigint() (its own cost,
// ~50 ns, is negligible next to theirs), cycling through the 1024 requests,
// for up to BUDGET_MS or MAX_DECISIONS each, after a warm-up pass.
import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { newEnforcer, newModelFromString, StringAdapter } from 'casbin';

const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 3000);
const MAX_DECISIONS = 200000;

const [workloadPath, resultPath] = process.argv.slice(2);
const w = JSON.parse(readFileSync(workloadPath, 'utf8'));
const bindery = JSON.parse(readFileSync(resultPath, 'utf8'));

function percentiles(samples) {
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))];
  return { p50: at(0.5), p99: at(0.99), n: samples.length };
}

function measure(decide) {
  const n = w.requests.length;
  for (let i = 0; i < n; i++) decide(i); // warm-up
  const samples = [];
  const start = process.hrtime.bigint();
  const budget = BigInt(BUDGET_MS) * 1000000n;
  for (let i = 0; samples.length < MAX_DECISIONS; i = (i + 1) % n) {
    const t0 = process.hrtime.bigint();
    decide(i);
    const t1 = process.hrtime.bigint();
    samples.push(Number(t1 - t0));
    if (t1 - start > budget && samples.length >= n) break;
  }
  return percentiles(samples);
}

function check(name, decide) {
  let mismatches = 0;
  for (let i = 0; i < w.requests.length; i++) {
    const got = decide(i);
    if (got !== bindery.decisions[i]) {
      if (mismatches++ < 5) console.error(`${name}: request ${i} ${JSON.stringify(w.requests[i])}: ${got}, bindery ${bindery.decisions[i]}`);
    }
  }
  if (mismatches) throw new Error(`${name} disagrees with bindery on ${mismatches} of ${w.requests.length} requests`);
}

// ---- cedar ----
const pre = cedar.preparsePolicySet('bench', { staticPolicies: w.cedar });
if (pre.type !== 'success') throw new Error('cedar: ' + JSON.stringify(pre.errors));
const principal = { type: 'User', id: 'sub-user' };
const action = { type: 'Action', id: 'call' };
const resource = { type: 'Resource', id: 'r' };
function cedarDecide(i) {
  const r = w.requests[i];
  const answer = cedar.statefulIsAuthorized({
    principal, action, resource,
    context: { action: r.action, resource: r.resource, ip: { __extn: { fn: 'ip', arg: r.ip } }, now: r.now },
    preparsedPolicySetId: 'bench',
    entities: [],
  });
  if (answer.type !== 'success') throw new Error('cedar: ' + JSON.stringify(answer.errors));
  return answer.response.decision;
}

// ---- casbin ----
const csv = w.casbin_rules.map((r) => r.join(', ')).join('\n');
const enforcer = await newEnforcer(newModelFromString(w.casbin_model), new StringAdapter(csv));
function casbinDecide(i) {
  const r = w.requests[i];
  return enforcer.enforceSync(r.action, r.resource, r.ip, r.now) ? 'allow' : 'deny';
}

check('cedar', cedarDecide);
check('casbin', casbinDecide);
const c = measure(cedarDecide);
const k = measure(casbinDecide);

const b = bindery.init_decide;
const d = bindery.decide;
const f = (ns) => (ns >= 10000 ? `${(ns / 1000).toFixed(1)} us` : `${ns.toFixed(0)} ns`).padStart(9);
const ratio = (x, y) => `${(x / y).toFixed(0)}x`.padStart(7);
console.log(`${w.npol} policies x ${w.statements_per_policy} statements; ${w.requests.length} requests, ` +
  `${bindery.allowed} allowed; cedar and casbin agree with bindery on every request`);
console.log(`  engine                      p50        p99   p50 ratio  p99 ratio   (vs bindery init+decide)`);
console.log(`  bindery init+decide   ${f(b.p50_ns)}  ${f(b.p99_ns)}`);
console.log(`  bindery decide only   ${f(d.p50_ns)}  ${f(d.p99_ns)}`);
console.log(`  cedar-wasm ${cedar.getCedarVersion().padEnd(10)} ${f(c.p50)}  ${f(c.p99)}  ${ratio(c.p50, b.p50_ns)}    ${ratio(c.p99, b.p99_ns)}`);
console.log(`  casbin                ${f(k.p50)}  ${f(k.p99)}  ${ratio(k.p50, b.p50_ns)}    ${ratio(k.p99, b.p99_ns)}`);
