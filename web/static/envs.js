// 开发环境 (/envs, /envs/<EnvId>; docs/environments.md, docs/deploy.md "Console"):
// the environments of each linked mini program with 【一键开通】 and delete,
// and for the chosen environment the deploy console — runtime state, the
// versions, the deploy history, a deploy log that follows a running job and
// the runtime log with follow, and the jobs 部署 / 回滚 / 重启 / 停止 / 取消.
// Everything goes through POST /console/api with the same actions the API
// and the CLI use (CAM-checked by the server). Runs inside the console
// frame (shell.js), which gives the session and the CSRF-aware action().
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var t = i18n.t;
  var shell = window.BinderyShell;

  // Long-polls hold a request on the server this long (the server's
  // ceiling is 20 s); the loops ask again.
  var WAIT_SECONDS = 10;
  // The runtime log keeps this many lines on screen; older ones scroll out.
  var RUNTIME_KEEP = 500;
  // Reading the runtime log from its start: at most this many pages.
  var RUNTIME_PAGES_MAX = 50;
  var PAGE_LINES = 1000;
  var ENV_RE = /^\/envs\/([A-Za-z0-9_-]{1,63})$/;
  var REVOKED = 'FailedOperation.WechatAuthorizationRevoked';

  i18n.extend({
    'zh-CN': {
      'title.envs': '开发环境 · Bindery 控制台',
      'envs.title': '开发环境',
      'envs.hint': '为已关联的小程序一键开通后端环境；用 bindery upload 上传代码，每次上传生成一个不可变的版本；在这里部署、回滚、重启、停止，并查看日志。',
      'envs.noApps': '还没有关联的小程序：先在账号中心关联。',
      'envs.create': '一键开通',
      'envs.open': '管理',
      'envs.delete': '删除',
      'envs.none': '还没有环境。',
      'envs.col.env': '环境',
      'envs.col.state': '状态',
      'envs.col.versions': '版本',
      'envs.col.actions': '操作',
      'envs.confirmDelete': '删除环境 {env}？它的目录和全部版本都会被删除。',
      'envs.confirmStop': '停止环境 {env}？停止后访问地址返回 503，直到下一次部署或重启。',
      'envs.yes': '确定',
      'envs.no': '取消',
      'envs.noVersion': '尚无版本',
      'envs.latest': '最新版本 {n}',
      'envs.error': '操作失败',
      'envs.reauthHint': '到账号中心重新授权该小程序后再试。',
      'envs.toCenter': '打开账号中心',
      'envs.refresh': '刷新',
      'envs.detailTitle': '环境 {env}',
      'envs.f.state': '环境状态',
      'envs.f.live': '线上版本',
      'envs.f.process': '进程',
      'envs.f.restarts': '重启次数',
      'envs.f.url': '访问地址',
      'envs.f.sandbox': '沙箱',
      'envs.f.lastDeploy': '最近任务',
      'envs.liveNone': '无（尚未部署）',
      'envs.liveStopped': '版本 {n}（已停止）',
      'envs.liveVersion': '版本 {n}',
      'envs.liveVersionPrev': '版本 {n}（上一个：{prev}）',
      'envs.processNone': '没有运行中的进程',
      'envs.crashOutput': '崩溃前的最后输出',
      'envs.version': '版本',
      'envs.versionOption': '版本 {n}{desc}',
      'envs.versionLive': '（线上）',
      'envs.act.deploy': '部署',
      'envs.act.rollback': '回滚',
      'envs.act.restart': '重启',
      'envs.act.stop': '停止',
      'envs.act.cancel': '取消',
      'envs.jobStarted': '已创建任务 {id}（{kind}）。',
      'envs.canceled': '已请求取消任务 {id}。',
      'envs.deleted': '已删除环境 {env}。',
      'envs.versions': '版本',
      'envs.noVersions': '还没有版本：用 bindery upload 上传代码。',
      'envs.col.version': '版本',
      'envs.col.description': '说明',
      'envs.col.runtime': '运行时与入口',
      'envs.col.files': '文件',
      'envs.col.created': '上传时间',
      'envs.files': '{n} 个文件 · {size}',
      'envs.tagLive': '线上',
      'envs.deploys': '部署记录',
      'envs.noDeploys': '还没有部署过。',
      'envs.col.job': '任务',
      'envs.col.jobState': '状态',
      'envs.col.versionChange': '版本',
      'envs.col.result': '步骤与结果',
      'envs.col.times': '时间',
      'envs.showLog': '查看日志',
      'envs.stepAt': '步骤 {step}',
      'envs.created': '创建于 {time}',
      'envs.finished': '结束于 {time}',
      'envs.deployLog': '部署日志',
      'envs.deployLogNone': '选择一条部署记录查看它的日志。',
      'envs.logOf': '任务 {id} · {kind} · {state}',
      'envs.logFollowing': '任务 {id} · {kind} · {state} · 正在跟随…',
      'envs.runtimeLog': '运行日志',
      'envs.follow': '实时跟随',
      'envs.runtimeTruncated': '较早的日志已轮转删除，从仍保留的最早一行开始显示。',
      'envs.runtimeNone': '还没有运行日志。',
      'envs.runtimeUnavailable': '无法读取运行日志：{msg}',
      'envs.deployUnavailable': '此服务器没有运行部署服务：{msg}',
      'jobkind.deploy': '部署',
      'jobkind.rollback': '回滚',
      'jobkind.restart': '重启',
      'jobkind.stop': '停止',
      'job.QUEUED': '排队中',
      'job.RUNNING': '进行中',
      'job.SUCCEEDED': '成功',
      'job.FAILED': '失败',
      'job.CANCELED': '已取消',
      'proc.RUNNING': '运行中',
      'proc.BACKOFF': '崩溃后等待重启',
      'proc.CRASHLOOP': '反复崩溃（已停止重启）',
      'proc.EXITED': '已退出',
      'proc.STOPPED': '已停止',
      'desired.running': '应运行',
      'desired.stopped': '已停止',
      'envstate.PROVISIONING': '开通中',
      'envstate.READY': '运行就绪',
      'envstate.FAILED': '开通失败',
      'envstate.DELETING': '删除中',
      'err.ResourceInUse.Deploy': '该环境已有任务在进行',
      'err.FailedOperation.WechatAuthorizationRevoked': '小程序已停止授权',
      'err.FailedOperation.DeployUnavailable': '部署服务未运行',
      'err.FailedOperation.SandboxUnavailable': '没有可用的沙箱',
      'err.FailedOperation.DeployFinished': '任务已经结束',
      'err.ResourceNotFound.Deploy': '没有这个部署任务',
      'err.ResourceNotFound.Environment': '没有这个环境',
      'err.ResourceNotFound.Version': '没有这个版本',
      'err.LimitExceeded.Environment': '环境数量已达上限',
      'err.ResourceInUse.Environment': '环境正在部署，暂不能删除'
    },
    en: {
      'title.envs': 'Environments · Bindery console',
      'envs.title': 'Environments',
      'envs.hint': 'Provision a backend environment for a linked mini program in one click; upload code with bindery upload (every upload is an immutable version); deploy, roll back, restart, stop and read the logs here.',
      'envs.noApps': 'No linked mini program yet: link one in the account center first.',
      'envs.create': 'Create environment',
      'envs.open': 'Manage',
      'envs.delete': 'Delete',
      'envs.none': 'No environment yet.',
      'envs.col.env': 'Environment',
      'envs.col.state': 'State',
      'envs.col.versions': 'Versions',
      'envs.col.actions': 'Actions',
      'envs.confirmDelete': 'Delete environment {env}? Its directory and all its versions are removed.',
      'envs.confirmStop': 'Stop environment {env}? Its URL answers 503 until the next deploy or restart.',
      'envs.yes': 'OK',
      'envs.no': 'Cancel',
      'envs.noVersion': 'No version yet',
      'envs.latest': 'Latest version {n}',
      'envs.error': 'The operation failed',
      'envs.reauthHint': 'Re-authorize the mini program in the account center, then try again.',
      'envs.toCenter': 'Open the account center',
      'envs.refresh': 'Refresh',
      'envs.detailTitle': 'Environment {env}',
      'envs.f.state': 'Environment state',
      'envs.f.live': 'Live version',
      'envs.f.process': 'Process',
      'envs.f.restarts': 'Restarts',
      'envs.f.url': 'URL',
      'envs.f.sandbox': 'Sandbox',
      'envs.f.lastDeploy': 'Last job',
      'envs.liveNone': 'None (not deployed yet)',
      'envs.liveStopped': 'Version {n} (stopped)',
      'envs.liveVersion': 'Version {n}',
      'envs.liveVersionPrev': 'Version {n} (previous: {prev})',
      'envs.processNone': 'No process running',
      'envs.crashOutput': 'Last output before the crashes',
      'envs.version': 'Version',
      'envs.versionOption': 'Version {n}{desc}',
      'envs.versionLive': ' (live)',
      'envs.act.deploy': 'Deploy',
      'envs.act.rollback': 'Roll back',
      'envs.act.restart': 'Restart',
      'envs.act.stop': 'Stop',
      'envs.act.cancel': 'Cancel job',
      'envs.jobStarted': 'Job {id} ({kind}) created.',
      'envs.canceled': 'Cancel requested for job {id}.',
      'envs.deleted': 'Environment {env} deleted.',
      'envs.versions': 'Versions',
      'envs.noVersions': 'No version yet: upload code with bindery upload.',
      'envs.col.version': 'Version',
      'envs.col.description': 'Description',
      'envs.col.runtime': 'Runtime and entry',
      'envs.col.files': 'Files',
      'envs.col.created': 'Uploaded',
      'envs.files': '{n} files · {size}',
      'envs.tagLive': 'live',
      'envs.deploys': 'Deploy history',
      'envs.noDeploys': 'Nothing deployed yet.',
      'envs.col.job': 'Job',
      'envs.col.jobState': 'State',
      'envs.col.versionChange': 'Version',
      'envs.col.result': 'Step and result',
      'envs.col.times': 'Times',
      'envs.showLog': 'Show log',
      'envs.stepAt': 'Step {step}',
      'envs.created': 'Created {time}',
      'envs.finished': 'Finished {time}',
      'envs.deployLog': 'Deploy log',
      'envs.deployLogNone': 'Pick a job in the deploy history to read its log.',
      'envs.logOf': 'Job {id} · {kind} · {state}',
      'envs.logFollowing': 'Job {id} · {kind} · {state} · following…',
      'envs.runtimeLog': 'Runtime log',
      'envs.follow': 'Follow',
      'envs.runtimeTruncated': 'Older lines were rotated away; showing from the oldest line kept.',
      'envs.runtimeNone': 'No runtime output yet.',
      'envs.runtimeUnavailable': 'The runtime log cannot be read: {msg}',
      'envs.deployUnavailable': 'Deploy is not running on this server: {msg}',
      'jobkind.deploy': 'Deploy',
      'jobkind.rollback': 'Rollback',
      'jobkind.restart': 'Restart',
      'jobkind.stop': 'Stop',
      'job.QUEUED': 'Queued',
      'job.RUNNING': 'Running',
      'job.SUCCEEDED': 'Succeeded',
      'job.FAILED': 'Failed',
      'job.CANCELED': 'Canceled',
      'proc.RUNNING': 'Running',
      'proc.BACKOFF': 'Crashed, restarting soon',
      'proc.CRASHLOOP': 'Crash loop (no more restarts)',
      'proc.EXITED': 'Exited',
      'proc.STOPPED': 'Stopped',
      'desired.running': 'Should run',
      'desired.stopped': 'Stopped',
      'envstate.PROVISIONING': 'Provisioning',
      'envstate.READY': 'Ready',
      'envstate.FAILED': 'Failed',
      'envstate.DELETING': 'Deleting',
      'err.ResourceInUse.Deploy': 'A job is already running for this environment',
      'err.FailedOperation.WechatAuthorizationRevoked': 'The mini program no longer authorizes Bindery',
      'err.FailedOperation.DeployUnavailable': 'Deploy is not running',
      'err.FailedOperation.SandboxUnavailable': 'No sandbox available',
      'err.FailedOperation.DeployFinished': 'The job has already finished',
      'err.ResourceNotFound.Deploy': 'No such deploy job',
      'err.ResourceNotFound.Environment': 'No such environment',
      'err.ResourceNotFound.Version': 'No such version',
      'err.LimitExceeded.Environment': 'The environment quota is reached',
      'err.ResourceInUse.Environment': 'A deploy is running; the environment cannot be deleted now'
    }
  });

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className)
      e.className = className;
    if (text !== undefined)
      e.textContent = text;
    return e;
  }

  // Texts built here keep their key (data-i18n) when they have no values,
  // so the frame's language switch retranslates them; others are redrawn.
  function setText(node, key, vars) {
    if (vars)
      node.removeAttribute('data-i18n');
    else
      node.setAttribute('data-i18n', key);
    node.textContent = t(key, vars);
  }

  function keyed(tag, className, key, vars) {
    var e = el(tag, className);
    setText(e, key, vars);
    return e;
  }

  // "2026-11-25 07:00:00" (UTC, as the API answers) in the reader's time.
  function localTime(s) {
    if (!s)
      return '';
    var d = new Date(s.replace(' ', 'T') + 'Z');
    return isNaN(d.getTime()) ? s : d.toLocaleString(i18n.current(), { hour12: false });
  }

  // "2026-11-25 07:00:00.123" of a deploy log line: the time of day, local.
  function clock(s) {
    var d = new Date(String(s || '').replace(' ', 'T') + 'Z');
    return isNaN(d.getTime()) ? String(s || '') : d.toLocaleTimeString(i18n.current(), { hour12: false });
  }

  function bytes(n) {
    if (n < 1024)
      return n + ' B';
    if (n < 1024 * 1024)
      return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function badge(key, tone) {
    var b = keyed('span', 'badge badge--' + tone, key);
    return b;
  }

  function jobTone(state) {
    return state === 'SUCCEEDED' ? 'active' : state === 'FAILED' ? 'revoked'
      : state === 'RUNNING' || state === 'QUEUED' ? 'running' : 'unlinked';
  }

  function procTone(state) {
    return state === 'RUNNING' ? 'active' : state === 'CRASHLOOP' || state === 'BACKOFF' ? 'revoked'
      : 'unlinked';
  }

  /* ---- Messages ----------------------------------------------------------- */

  // The last notice, redrawn when the language changes (its values make
  // it a text the frame's apply() cannot retranslate). vars may be a
  // function, for values that are texts themselves.
  var shownNotice = null;

  function drawNotice() {
    var v = shownNotice.vars;
    setText($('notice-text'), shownNotice.key, typeof v === 'function' ? v() : v);
  }

  function notice(key, vars) {
    shownNotice = { key: key, vars: vars };
    drawNotice();
    $('notice').hidden = false;
  }

  function clearMessages() {
    $('notice').hidden = true;
    $('page-error').hidden = true;
    $('page-error-hint').hidden = true;
  }

  // The server's code and message; a revoked link also gets the way back.
  function fail(err) {
    if (err.code === shell.SESSION_INVALID) {
      shell.leave();
      return;
    }
    $('notice').hidden = true;
    shell.showError('page-error', 'envs.error', err);
    $('page-error-hint').hidden = err.code !== REVOKED;
  }

  function confirmDialog(key, vars) {
    var dialog = $('envs-confirm');
    setText($('envs-confirm-text'), key, vars);
    return new Promise(function (resolve) {
      dialog.addEventListener('close', function onClose() {
        dialog.removeEventListener('close', onClose);
        resolve(dialog.returnValue === 'ok');
      });
      dialog.returnValue = '';
      dialog.showModal();
      $('envs-confirm-cancel').focus();
    });
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    button.classList.toggle('is-busy', busy);
    if (busy)
      button.setAttribute('aria-busy', 'true');
    else
      button.removeAttribute('aria-busy');
  }

  /* ---- State -------------------------------------------------------------- */

  var links = [];
  var envs = [];
  var sel = null; // the EnvId shown in the detail
  var rt = null; // its DescribeEnvironmentRuntime
  var versions = [];
  var deploys = [];
  var logJob = null; // the DeployId whose log is shown
  // Every follower loop carries the generation it started with and stops
  // when the page moves on (another environment, another job).
  var gen = { deployLog: 0, runtime: 0, detail: 0 };

  function envById(id) {
    for (var i = 0; i < envs.length; i++) {
      if (envs[i].EnvId === id)
        return envs[i];
    }
    return null;
  }

  /* ---- The environments of each app -------------------------------------- */

  // A row's button; its accessible name says which row (the frame's
  // language switch redraws the rows).
  function button(key, cls, onClick, what) {
    var b = el('button', 'btn btn--sm ' + cls);
    b.type = 'button';
    setText(b, key);
    if (what)
      b.setAttribute('aria-label', t(key) + ' ' + what);
    b.addEventListener('click', function () {
      onClick(b);
    });
    return b;
  }

  function envRow(e) {
    var tr = el('tr', 'env-row');
    tr.setAttribute('data-env', e.EnvId);
    tr.setAttribute('data-state', e.State);
    if (e.EnvId === sel)
      tr.setAttribute('aria-current', 'true');
    var name = el('td', 'app-cell');
    name.appendChild(el('span', 'app-cell__name', e.EnvId));
    if (e.Port)
      name.appendChild(el('span', 'app-cell__appid', ':' + e.Port));
    tr.appendChild(name);
    var st = el('td', 'env-state');
    st.appendChild(badge('envstate.' + e.State, e.State === 'READY' ? 'active'
      : e.State === 'FAILED' ? 'revoked' : 'running'));
    if (e.ErrorMessage)
      st.appendChild(el('span', 'state-reason', e.ErrorMessage));
    tr.appendChild(st);
    tr.appendChild(e.LatestVersion ? el('td', '', t('envs.latest', { n: e.LatestVersion }))
      : keyed('td', '', 'envs.noVersion'));
    var acts = el('td', 'actions');
    if (e.State !== 'DELETING' && e.State !== 'PROVISIONING')
      acts.appendChild(button('envs.open', 'btn--secondary act-open', function () {
        select(e.EnvId, true);
      }, e.EnvId));
    if (e.State !== 'DELETING')
      acts.appendChild(button('envs.delete', 'btn--danger act-delete', function (b) {
        remove(b, e);
      }, e.EnvId));
    tr.appendChild(acts);
    return tr;
  }

  function envTable(list) {
    var wrap = el('div', 'table-wrap');
    var table = el('table', 'table');
    var thead = el('thead');
    var hr = el('tr');
    ['envs.col.env', 'envs.col.state', 'envs.col.versions', 'envs.col.actions'].forEach(function (k) {
      var th = keyed('th', '', k);
      th.scope = 'col';
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    var body = el('tbody');
    list.forEach(function (e) {
      body.appendChild(envRow(e));
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function renderApps() {
    var root = $('apps');
    root.textContent = '';
    var mps = links.filter(function (l) {
      return l.State === 'active' || l.State === 'revoked';
    });
    $('no-apps').hidden = mps.length > 0;
    mps.forEach(function (l) {
      var card = el('section', 'card card--spaced app-card');
      card.setAttribute('data-app', l.AuthorizerAppId);
      var head = el('div', 'card__head');
      var title = el('h2', 'card__title', (l.NickName || l.AuthorizerAppId) + ' · ' + l.AuthorizerAppId);
      title.id = 'app-' + l.AuthorizerAppId;
      card.setAttribute('aria-labelledby', title.id);
      head.appendChild(title);
      head.appendChild(button('envs.create', 'btn--primary act-create', function (b) {
        create(b, l.AuthorizerAppId);
      }));
      card.appendChild(head);
      var mine = envs.filter(function (e) {
        return e.AppId === l.AuthorizerAppId;
      });
      card.appendChild(mine.length ? envTable(mine) : keyed('p', 'card__empty', 'envs.none'));
      root.appendChild(card);
    });
  }

  // Follows a provisioning environment with the long-poll until it settles.
  async function followProvisioning(e) {
    var seq = e.StateSeq;
    for (var i = 0; i < 30; i++) {
      var r = await shell.action('DescribeEnvironment', { EnvId: e.EnvId, WaitSeq: seq, WaitSeconds: WAIT_SECONDS });
      seq = r.Environment.StateSeq;
      envs = envs.map(function (x) {
        return x.EnvId === e.EnvId ? r.Environment : x;
      });
      renderApps();
      if (r.Environment.State !== 'PROVISIONING')
        return;
    }
  }

  async function create(b, appid) {
    setBusy(b, true);
    clearMessages();
    try {
      var r = await shell.action('CreateEnvironment', { AppId: appid, ClientToken: appid + '-' + Date.now() });
      if (!envById(r.EnvId))
        envs.push(r.Environment);
      renderApps();
      await followProvisioning(r.Environment);
    } catch (err) {
      fail(err);
    }
    setBusy(b, false);
  }

  async function remove(b, e) {
    if (!(await confirmDialog('envs.confirmDelete', { env: e.EnvId })))
      return;
    setBusy(b, true);
    clearMessages();
    try {
      await shell.action('DeleteEnvironment', { EnvId: e.EnvId });
      if (sel === e.EnvId)
        unselect();
      await loadEnvs();
      notice('envs.deleted', { env: e.EnvId });
    } catch (err) {
      setBusy(b, false);
      fail(err);
    }
  }

  async function loadEnvs() {
    envs = (await shell.action('DescribeEnvironments', { Limit: 100 })).Environments;
    renderApps();
  }

  /* ---- The chosen environment: runtime, versions, history ----------------- */

  function renderRuntime() {
    var e = envById(sel);
    setText($('detail-title'), 'envs.detailTitle', { env: sel });
    var state = $('rt-state');
    state.textContent = '';
    if (e)
      state.appendChild(badge('envstate.' + e.State, e.State === 'READY' ? 'active' : 'revoked'));
    var url = '/env/' + sel + '/';
    $('rt-url').href = url;
    $('rt-url').textContent = window.location.origin + url;
    if (!rt) {
      ['rt-live', 'rt-process', 'rt-restarts', 'rt-sandbox', 'rt-last'].forEach(function (id) {
        $(id).textContent = '—';
      });
      $('crash-box').hidden = true;
      return;
    }
    var live = $('rt-live');
    if (!rt.LiveVersion)
      setText(live, 'envs.liveNone');
    else if (rt.Desired === 'stopped')
      setText(live, 'envs.liveStopped', { n: rt.LiveVersion });
    else if (rt.PreviousVersion)
      setText(live, 'envs.liveVersionPrev', { n: rt.LiveVersion, prev: rt.PreviousVersion });
    else
      setText(live, 'envs.liveVersion', { n: rt.LiveVersion });
    var p = rt.Process;
    var proc = $('rt-process');
    proc.textContent = '';
    proc.removeAttribute('data-state');
    if (p) {
      proc.setAttribute('data-state', p.State);
      proc.appendChild(badge('proc.' + p.State, procTone(p.State)));
      proc.appendChild(el('span', 'proc-detail mono', 'v' + p.Version + ' · :' + p.Port +
        (p.Pid ? ' · pid ' + p.Pid : '')));
    } else {
      proc.setAttribute('data-state', 'NONE');
      proc.appendChild(keyed('span', '', 'envs.processNone'));
      proc.appendChild(el('span', 'tag proc-desired', t('desired.' + rt.Desired)));
    }
    $('rt-restarts').textContent = p ? String(p.Restarts) : '0';
    $('rt-sandbox').textContent = rt.Sandbox;
    var last = $('rt-last');
    last.textContent = '';
    var d = deploys[0];
    if (d) {
      last.appendChild(el('span', 'mono', d.DeployId + ' '));
      last.appendChild(badge('job.' + d.State, jobTone(d.State)));
    } else {
      last.textContent = '—';
    }
    var crashed = p && p.LastOutput;
    $('crash-box').hidden = !crashed;
    $('crash-output').textContent = crashed ? p.LastOutput : '';
    renderButtons();
  }

  function renderButtons() {
    var active = rt && rt.ActiveDeployId;
    var e = envById(sel);
    var ready = e && e.State === 'READY';
    $('act-cancel').hidden = !active;
    $('act-deploy').disabled = !ready || !!active || !versions.length;
    $('act-rollback').disabled = !ready || !!active || !(rt && (rt.PreviousVersion || rt.LiveVersion));
    $('act-restart').disabled = !ready || !!active || !(rt && rt.LiveVersion);
    // A stopped environment starts again with 重启 (its live version) or
    // a deploy; there is nothing to stop.
    $('act-stop').disabled = !ready || !!active || !(rt && rt.LiveVersion && rt.Desired !== 'stopped');
  }

  function renderVersions() {
    var body = $('versions-body');
    body.textContent = '';
    var select = $('deploy-version');
    var chosen = select.value;
    select.textContent = '';
    versions.forEach(function (v) {
      var live = rt && rt.LiveVersion === v.Version;
      var tr = el('tr', 'version-row');
      tr.setAttribute('data-version', String(v.Version));
      var num = el('td');
      num.appendChild(el('span', 'app-cell__name', 'v' + v.Version));
      if (live)
        num.appendChild(keyed('span', 'tag tag--live', 'envs.tagLive'));
      tr.appendChild(num);
      tr.appendChild(el('td', '', v.Description || '—'));
      tr.appendChild(el('td', 'mono', v.Runtime + ' · ' + v.Entry));
      tr.appendChild(el('td', '', t('envs.files', { n: v.FileCount, size: bytes(v.TotalBytes) })));
      tr.appendChild(el('td', '', localTime(v.CreatedAt)));
      body.appendChild(tr);
      var o = el('option', '', t('envs.versionOption', {
        n: v.Version, desc: (live ? t('envs.versionLive') : '') + (v.Description ? ' · ' + v.Description : '')
      }));
      o.value = String(v.Version);
      select.appendChild(o);
    });
    if (chosen && versions.some(function (v) {
      return String(v.Version) === chosen;
    }))
      select.value = chosen;
    $('versions-empty').hidden = versions.length > 0;
    $('versions').hidden = versions.length === 0;
  }

  function deployRow(d) {
    var tr = el('tr', 'deploy-row');
    tr.setAttribute('data-deploy', d.DeployId);
    tr.setAttribute('data-state', d.State);
    tr.setAttribute('data-kind', d.Kind);
    if (d.DeployId === logJob)
      tr.setAttribute('aria-current', 'true');
    var job = el('td', 'app-cell');
    job.appendChild(keyed('span', 'app-cell__name', 'jobkind.' + d.Kind));
    job.appendChild(el('span', 'app-cell__appid', d.DeployId));
    tr.appendChild(job);
    var st = el('td');
    st.appendChild(badge('job.' + d.State, jobTone(d.State)));
    tr.appendChild(st);
    var ver = d.Kind === 'stop' ? (d.FromVersion ? 'v' + d.FromVersion + ' → —' : '—')
      : (d.FromVersion ? 'v' + d.FromVersion + ' → ' : '') + (d.ToVersion ? 'v' + d.ToVersion : '—');
    tr.appendChild(el('td', 'mono deploy-versions', ver));
    var res = el('td', 'deploy-result');
    if (d.Step)
      res.appendChild(el('div', 'time-line', t('envs.stepAt', { step: d.Step })));
    if (d.ErrorCode) {
      res.appendChild(el('div', 'deploy-code', d.ErrorCode));
      if (d.ErrorMessage)
        res.appendChild(el('pre', 'deploy-error', d.ErrorMessage));
    }
    tr.appendChild(res);
    var times = el('td');
    times.appendChild(el('div', 'time-line', t('envs.created', { time: localTime(d.CreatedAt) })));
    if (d.FinishedAt)
      times.appendChild(el('div', 'time-line', t('envs.finished', { time: localTime(d.FinishedAt) })));
    tr.appendChild(times);
    var acts = el('td', 'actions');
    acts.appendChild(button('envs.showLog', 'btn--secondary act-log', function () {
      showDeployLog(d.DeployId);
    }, d.DeployId));
    tr.appendChild(acts);
    return tr;
  }

  function renderDeploys() {
    var body = $('deploys-body');
    body.textContent = '';
    deploys.forEach(function (d) {
      body.appendChild(deployRow(d));
    });
    $('deploys-empty').hidden = deploys.length > 0;
    $('deploys').hidden = deploys.length === 0;
  }

  function renderDetail() {
    renderRuntime();
    renderVersions();
    renderDeploys();
    renderButtons();
    renderLogStatus();
  }

  // Reads the chosen environment's runtime, versions and jobs. A server
  // without a deployer still lists versions: the runtime box says why the
  // rest is empty.
  async function refreshDetail() {
    var g = ++gen.detail;
    var env = sel;
    var r = await Promise.allSettled([
      shell.action('DescribeEnvironmentRuntime', { EnvId: env }),
      shell.action('DescribeVersions', { EnvId: env, Limit: 100 }),
      shell.action('DescribeDeploys', { EnvId: env, Limit: 20 })
    ]);
    if (g !== gen.detail || env !== sel)
      return;
    var failed = r.filter(function (x) {
      return x.status === 'rejected';
    }).map(function (x) {
      return x.reason;
    });
    rt = r[0].status === 'fulfilled' ? r[0].value.Runtime : null;
    versions = r[1].status === 'fulfilled' ? r[1].value.Versions : [];
    deploys = r[2].status === 'fulfilled' ? r[2].value.Deploys : [];
    var note = $('runtime-error');
    var unavailable = failed.filter(function (err) {
      return err.code === 'FailedOperation.DeployUnavailable';
    })[0];
    note.hidden = !unavailable;
    if (unavailable)
      setText(note, 'envs.deployUnavailable', { msg: unavailable.message });
    var other = failed.filter(function (err) {
      return err !== unavailable && err.code !== 'FailedOperation.DeployUnavailable';
    })[0];
    if (other)
      fail(other);
    renderDetail();
  }

  /* ---- Jobs ------------------------------------------------------------- */

  async function runJob(buttonEl, name, params) {
    clearMessages();
    setBusy(buttonEl, true);
    try {
      var r = await shell.action(name, params);
      notice('envs.jobStarted', function () {
        return { id: r.DeployId, kind: t('jobkind.' + r.Deploy.Kind) };
      });
      deploys.unshift(r.Deploy);
      if (rt)
        rt.ActiveDeployId = r.DeployId;
      showDeployLog(r.DeployId);
      await refreshDetail();
    } catch (err) {
      fail(err);
      // The state may have moved (another job, a revoked link): show it.
      refreshDetail();
    }
    setBusy(buttonEl, false);
    renderButtons();
  }

  function bindJobs() {
    $('act-deploy').addEventListener('click', function () {
      runJob($('act-deploy'), 'CreateDeploy', { EnvId: sel, Version: Number($('deploy-version').value) });
    });
    $('act-rollback').addEventListener('click', function () {
      runJob($('act-rollback'), 'RollbackEnvironment', { EnvId: sel });
    });
    $('act-restart').addEventListener('click', function () {
      runJob($('act-restart'), 'RestartEnvironment', { EnvId: sel });
    });
    $('act-stop').addEventListener('click', async function () {
      if (await confirmDialog('envs.confirmStop', { env: sel }))
        runJob($('act-stop'), 'StopEnvironment', { EnvId: sel });
    });
    $('act-cancel').addEventListener('click', async function () {
      var b = $('act-cancel');
      var id = rt && rt.ActiveDeployId;
      if (!id)
        return;
      clearMessages();
      setBusy(b, true);
      try {
        await shell.action('CancelDeploy', { DeployId: id });
        notice('envs.canceled', { id: id });
      } catch (err) {
        fail(err);
      }
      setBusy(b, false);
      refreshDetail();
    });
    $('detail-refresh').addEventListener('click', function () {
      clearMessages();
      refreshDetail();
    });
  }

  /* ---- Deploy log ---------------------------------------------------------- */

  var logState = null; // the Deploy of the shown log, as last read

  function renderLogStatus() {
    var s = $('deploy-log-status');
    if (!logJob || !logState) {
      s.textContent = '';
      return;
    }
    var done = logState.State !== 'RUNNING' && logState.State !== 'QUEUED';
    s.setAttribute('data-state', logState.State);
    setText(s, done ? 'envs.logOf' : 'envs.logFollowing', {
      id: logJob, kind: t('jobkind.' + logState.Kind), state: t('job.' + logState.State) +
        (logState.ErrorCode ? ' (' + logState.ErrorCode + ')' : '')
    });
  }

  function logLine(l) {
    var line = el('span', 'log-line log-line--' + (l.Level || 'info'));
    line.textContent = clock(l.Time) + '  ' + (l.Step || '-') + '  ' + (l.Level || '') + '  ' + l.Message + '\n';
    return line;
  }

  function appendLines(pre, nodes) {
    var stick = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    var frag = document.createDocumentFragment();
    nodes.forEach(function (n) {
      frag.appendChild(n);
    });
    pre.appendChild(frag);
    if (stick)
      pre.scrollTop = pre.scrollHeight;
  }

  // Shows the log of job id from its first line and, while the job runs,
  // follows it with the long-poll until it finishes; then the runtime box
  // and the history are read again.
  async function showDeployLog(id) {
    var g = ++gen.deployLog;
    logJob = id;
    logState = null;
    var pre = $('deploy-log');
    pre.textContent = '';
    pre.hidden = false;
    pre.setAttribute('data-deploy', id);
    pre.removeAttribute('data-finished');
    pre.setAttribute('aria-busy', 'true');
    $('deploy-log-empty').hidden = true;
    renderDeploys();
    var cursor = 0;
    try {
      logState = (await shell.action('DescribeDeploy', { DeployId: id })).Deploy;
      renderLogStatus();
      for (;;) {
        var r = await shell.action('DescribeDeployLog', {
          DeployId: id, Cursor: cursor, Limit: PAGE_LINES, WaitSeconds: WAIT_SECONDS
        });
        if (g !== gen.deployLog)
          return;
        cursor = r.NextCursor;
        appendLines(pre, r.Lines.map(logLine));
        if (r.Lines.length || r.Finished) {
          logState = (await shell.action('DescribeDeploy', { DeployId: id })).Deploy;
          if (g !== gen.deployLog)
            return;
          deploys = deploys.map(function (d) {
            return d.DeployId === id ? logState : d;
          });
          renderDeploys();
          renderLogStatus();
        }
        if (r.Finished)
          break;
      }
    } catch (err) {
      if (g === gen.deployLog)
        fail(err);
      return;
    } finally {
      if (g === gen.deployLog)
        pre.removeAttribute('aria-busy');
    }
    pre.setAttribute('data-finished', logState.State);
    await refreshDetail();
  }

  /* ---- Runtime log ----------------------------------------------------------- */

  function runtimeLine(text) {
    // "2026-11-25T08:11:09.123Z stdout pid=42 v=3 text"
    var stream = /^\S+ (stdout|stderr|supervisor)\b/.exec(text);
    return el('span', 'log-line log-line--' + (stream ? stream[1] : 'stdout'), text + '\n');
  }

  function keepTail(pre) {
    while (pre.childNodes.length > RUNTIME_KEEP)
      pre.removeChild(pre.firstChild);
  }

  // Reads the runtime log from its oldest kept line (the newest
  // RUNTIME_KEEP stay on screen), then, while 实时跟随 is on, follows it.
  async function runtimeLog() {
    var g = ++gen.runtime;
    var env = sel;
    var pre = $('runtime-log');
    var note = $('runtime-log-note');
    pre.textContent = '';
    note.hidden = true;
    var cursor = 0;
    try {
      for (var i = 0; i < RUNTIME_PAGES_MAX; i++) {
        var r = await shell.action('DescribeRuntimeLog', { EnvId: env, Cursor: cursor, Limit: PAGE_LINES });
        if (g !== gen.runtime)
          return;
        if (r.Truncated && cursor === 0) {
          setText(note, 'envs.runtimeTruncated');
          note.hidden = false;
        }
        cursor = r.NextCursor;
        appendLines(pre, r.Lines.map(runtimeLine));
        keepTail(pre);
        if (r.Lines.length < PAGE_LINES)
          break;
      }
      if (!pre.childNodes.length && note.hidden) {
        setText(note, 'envs.runtimeNone');
        note.hidden = false;
      }
      pre.scrollTop = pre.scrollHeight;
      while ($('runtime-follow').checked) {
        var f = await shell.action('DescribeRuntimeLog', {
          EnvId: env, Cursor: cursor, Limit: PAGE_LINES, WaitSeconds: WAIT_SECONDS
        });
        if (g !== gen.runtime)
          return;
        cursor = f.NextCursor;
        if (f.Lines.length && note.getAttribute('data-i18n') === 'envs.runtimeNone')
          note.hidden = true;
        appendLines(pre, f.Lines.map(runtimeLine));
        keepTail(pre);
      }
    } catch (err) {
      if (g !== gen.runtime)
        return;
      if (err.code === shell.SESSION_INVALID)
        return shell.leave();
      setText(note, 'envs.runtimeUnavailable', { msg: (err.code ? err.code + ': ' : '') + err.message });
      note.hidden = false;
    }
  }

  /* ---- Selection ----------------------------------------------------------- */

  function unselect() {
    sel = null;
    rt = null;
    logJob = null;
    gen.deployLog++;
    gen.runtime++;
    gen.detail++;
    $('env-detail').hidden = true;
    if (ENV_RE.test(window.location.pathname))
      window.history.replaceState(null, '', '/envs');
  }

  async function select(id, push) {
    if (push && window.location.pathname !== '/envs/' + id)
      window.history.pushState(null, '', '/envs/' + id);
    sel = id;
    rt = null;
    versions = [];
    deploys = [];
    logJob = null;
    logState = null;
    gen.deployLog++;
    $('deploy-log').hidden = true;
    $('deploy-log').textContent = '';
    $('deploy-log-empty').hidden = false;
    $('env-detail').hidden = false;
    renderApps();
    renderDetail();
    if (push)
      $('detail-title').scrollIntoView({ block: 'start' });
    runtimeLog();
    await refreshDetail();
    if (sel !== id || logJob)
      return;
    // The running job is followed at once; otherwise the last one is shown.
    var job = rt && rt.ActiveDeployId ? rt.ActiveDeployId : deploys[0] && deploys[0].DeployId;
    if (job)
      showDeployLog(job);
  }

  // The environment the address names (/envs/<EnvId>), if it is listed.
  function fromPath() {
    var m = ENV_RE.exec(window.location.pathname);
    if (m && envById(m[1]) && m[1] !== sel)
      select(m[1], false);
    else if (m && !envById(m[1]))
      window.history.replaceState(null, '', '/envs'); // deleted, or not this account's
    else if (!m && sel)
      unselect();
  }

  /* ---- Start ------------------------------------------------------------- */

  async function load() {
    try {
      await shell.ready;
      links = (await shell.action('ListLinks', { Limit: 200 })).Links.filter(function (l) {
        return l.AppType === 'MiniProgram';
      });
      await loadEnvs();
      $('loading').hidden = true;
      envs.filter(function (e) {
        return e.State === 'PROVISIONING';
      }).forEach(function (e) {
        followProvisioning(e).catch(fail);
      });
      fromPath();
    } catch (err) {
      $('loading').hidden = true;
      fail(err);
    }
  }

  // The process can change without a job (a crash, a restart by the
  // supervisor, CRASHLOOP): the runtime box is read again now and then
  // while it is shown.
  var RUNTIME_POLL_MS = 5000;
  window.setInterval(function () {
    if (!sel || document.visibilityState !== 'visible')
      return;
    var env = sel;
    shell.action('DescribeEnvironmentRuntime', { EnvId: env }).then(function (r) {
      if (env !== sel)
        return;
      rt = r.Runtime;
      renderRuntime();
      renderVersions();
    }, function () { /* shown by the next full refresh */ });
  }, RUNTIME_POLL_MS);

  $('runtime-follow').addEventListener('change', function () {
    if ($('runtime-follow').checked && sel)
      runtimeLog();
  });
  window.addEventListener('popstate', fromPath);
  document.addEventListener('bindery:langchange', function () {
    renderApps();
    if (sel)
      renderDetail();
    if (shownNotice && !$('notice').hidden)
      drawNotice();
  });
  bindJobs();
  load();
})();
