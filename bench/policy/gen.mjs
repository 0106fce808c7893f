// Generates one benchmark workload: a principal holding NPOL policies of 5
// statements each, written three ways with the same meaning -- Bindery CAM
// documents, Cedar policies, casbin rules -- and a list of requests.
//
//   node gen.mjs NPOL OUT.json
//
// Deterministic (fixed seed), so every engine sees the same data. The
// statements of policy i are about one product S (cycling through 12):
//   1. allow  [S:Describe*, S:List*]  on *
//   2. allow  S:Get*                  on qcs::S:ap-guangzhou:uin/OWNER:instance/web<i>-*
//   3. deny   S:Delete*               on qcs::S::uin/OWNER:instance/prod<i>-*     (any region)
//   4. allow  [S:Create*, S:Run*]     on qcs::S:ap-guangzhou:uin/OWNER:instance/*  if qcs:ip in 10.0.0.0/8
//   5. allow  S:Modify*               on *                                         if now < 2030-01-01
// Requests mix those products and two absent ones, eight verbs, operation-
// level ("*") and resource-level resources, two regions, inside/outside
// 10/8, and a clock before/after 2030.
import { writeFileSync } from 'node:fs';

const npol = Number(process.argv[2] ?? 10);
const out = process.argv[3] ?? `workload-${npol}.json`;
const OWNER = '100000000001';
const NOW = 1767225600; // 2026-01-01T00:00:00Z
const UNTIL = 1893456000; // 2030-01-01T00:00:00Z
const services = ['cvm', 'cos', 'cdb', 'vpc', 'clb', 'tke', 'scf', 'cls', 'cam', 'wxlink', 'deploy', 'ssl'];
const absent = ['cdn', 'mps'];

let seed = 0x2545f491;
function rnd(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}

// One statement in the neutral form the three writers share.
function statements(i) {
  const s = services[i % services.length];
  const inst = (region, id) => `qcs::${s}:${region}:uin/${OWNER}:instance/${id}`;
  return [
    { effect: 'allow', actions: [`${s}:Describe*`, `${s}:List*`], resource: '*' },
    { effect: 'allow', actions: [`${s}:Get*`], resource: inst('ap-guangzhou', `web${i}-*`) },
    { effect: 'deny', actions: [`${s}:Delete*`], resource: inst('', `prod${i}-*`) },
    { effect: 'allow', actions: [`${s}:Create*`, `${s}:Run*`], resource: inst('ap-guangzhou', '*'), cidr: '10.0.0.0/8' },
    { effect: 'allow', actions: [`${s}:Modify*`], resource: '*', until: UNTIL },
  ];
}

function camDocument(stmts) {
  return JSON.stringify({
    version: '2.0',
    statement: stmts.map((st) => {
      const o = { effect: st.effect, action: st.actions, resource: st.resource };
      const cond = {};
      if (st.cidr) cond.ip_equal = { 'qcs:ip': st.cidr };
      if (st.until) cond.date_less_than = { 'qcs:current_time': new Date(st.until * 1000).toISOString().replace('.000', '') };
      if (Object.keys(cond).length) o.condition = cond;
      return o;
    }),
  });
}

// Cedar: action and resource strings travel in the context and are matched
// with `like`; an empty region segment becomes `*` (the requests are always
// well-formed six-segment strings, so the two agree).
function cedarResource(r) {
  return r.replace(/^qcs::([^:]*)::/, 'qcs::$1:*:');
}

function cedarPolicy(st) {
  const acts = st.actions.map((a) => `context.action like "${a}"`).join(' || ');
  const conds = [`(${acts})`];
  if (st.resource !== '*') conds.push(`context.resource like "${cedarResource(st.resource)}"`);
  if (st.cidr) conds.push(`context.ip.isInRange(ip("${st.cidr}"))`);
  if (st.until) conds.push(`context.now < ${st.until}`);
  const eff = st.effect === 'allow' ? 'permit' : 'forbid';
  return `${eff} (principal, action, resource) when { ${conds.join(' && ')} };`;
}

function globRegex(g) {
  return '^' + g.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$';
}

// casbin: one rule per (statement, action); "no condition" is 0.0.0.0/0 and
// a far future.
function casbinRules(st) {
  const res = st.resource === '*' ? '^.*$' : globRegex(cedarResource(st.resource));
  return st.actions.map((a) => ['p', globRegex(a), res, st.cidr ?? '0.0.0.0/0', String(st.until ?? 99999999999), st.effect]);
}

const CASBIN_MODEL = `
[request_definition]
r = act, res, ip, now

[policy_definition]
p = act, res, cidr, until, eft

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = regexMatch(r.act, p.act) && regexMatch(r.res, p.res) && ipMatch(r.ip, p.cidr) && r.now < p.until
`;

function request() {
  const pool = rnd(10) === 0 ? absent : services;
  const s = pool[rnd(pool.length)];
  const verb = ['Describe', 'List', 'Get', 'Delete', 'Create', 'Run', 'Modify', 'Update'][rnd(8)];
  const action = `${s}:${verb}Instances`;
  const opLevel = ['Describe', 'List', 'Modify'].includes(verb) && rnd(10) < 7;
  const region = ['ap-guangzhou', 'ap-beijing'][rnd(2)];
  const id = `${['web', 'prod', 'dev'][rnd(3)]}${rnd(npol)}-${rnd(1000)}`;
  const resource = opLevel ? '*' : `qcs::${s}:${region}:uin/${OWNER}:instance/${id}`;
  const ip = rnd(10) < 6 ? `10.${rnd(256)}.${rnd(256)}.${rnd(256)}` : `203.0.113.${rnd(256)}`;
  const now = rnd(10) === 0 ? UNTIL + 86400 : NOW;
  return { action, resource, ip, now };
}

const all = [];
for (let i = 0; i < npol; i++) all.push(statements(i));
const requests = [];
for (let i = 0; i < 1024; i++) requests.push(request());

writeFileSync(out, JSON.stringify({
  npol,
  statements_per_policy: 5,
  owner_uin: OWNER,
  cam: all.map(camDocument),
  cedar: all.flat().map(cedarPolicy).join('\n'),
  casbin_model: CASBIN_MODEL,
  casbin_rules: all.flat().flatMap(casbinRules),
  requests,
}, null, 1));
