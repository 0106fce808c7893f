// 云开发环境 (/envs): the environments of each linked app, 【一键开通】,
// their state (followed by long-poll while provisioning), versions and
// delete. Uses the console's call() (window.BinderyConsole) and the same
// actions as the API and the CLI; its own strings are here, in both
// languages, and follow the page's language switch.
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var api = window.BinderyConsole;
  var DICT = {
    'zh-CN': {
      'nav.envs': '云开发环境',
      'envs.title': '云开发环境',
      'envs.hint': '为已关联的小程序一键开通后端环境；用 bindery upload 上传代码，每次上传生成一个不可变的版本。',
      'envs.noApps': '还没有关联的小程序：先在账号中心关联。',
      'envs.create': '一键开通',
      'envs.delete': '删除',
      'envs.none': '还没有环境。',
      'envs.col.env': '环境',
      'envs.col.state': '状态',
      'envs.col.versions': '版本',
      'envs.col.actions': '操作',
      'envs.confirm': '删除环境 {env}？它的目录和全部版本都会被删除。',
      'envs.noVersion': '尚无版本',
      'envs.latest': '最新版本 {n}',
      'envs.error': '操作失败',
      'state.PROVISIONING': '开通中',
      'state.READY': '运行就绪',
      'state.FAILED': '开通失败',
      'state.DELETING': '删除中'
    },
    en: {
      'nav.envs': 'Environments',
      'envs.title': 'Environments',
      'envs.hint': 'Provision a backend environment for a linked mini program in one click; upload code with bindery upload — every upload is an immutable version.',
      'envs.noApps': 'No linked mini program yet: link one in the account center first.',
      'envs.create': 'Create environment',
      'envs.delete': 'Delete',
      'envs.none': 'No environment yet.',
      'envs.col.env': 'Environment',
      'envs.col.state': 'State',
      'envs.col.versions': 'Versions',
      'envs.col.actions': 'Actions',
      'envs.confirm': 'Delete environment {env}? Its directory and all its versions are removed.',
      'envs.noVersion': 'No version yet',
      'envs.latest': 'Latest version {n}',
      'envs.error': 'The operation failed',
      'state.PROVISIONING': 'Provisioning',
      'state.READY': 'Ready',
      'state.FAILED': 'Failed',
      'state.DELETING': 'Deleting'
    }
  };

  function t(key, vars) {
    var d = DICT[i18n.current()] || DICT['zh-CN'];
    var s = Object.prototype.hasOwnProperty.call(d, key) ? d[key] : DICT['zh-CN'][key] || key;
    return s.replace(/\{(\w+)\}/g, function (m, n) { return vars && n in vars ? String(vars[n]) : m; });
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var csrf = '';
  var links = [];
  var envs = [];

  function action(name, params) {
    return api.call('POST', '/console/api', params || {}, { 'X-TC-Action': name, 'X-CSRF-Token': csrf });
  }

  function fail(err) {
    if (err.code === 'AuthFailure.SessionInvalid') {
      window.location.replace('/');
      return;
    }
    $('page-error-title').textContent = t('envs.error');
    $('page-error-message').textContent = err.message || '';
    $('page-error-code').textContent = err.code || '';
    $('page-error').hidden = false;
  }

  function translateStatic() {
    document.querySelectorAll('[data-envs-i18n]').forEach(function (e) {
      e.textContent = t(e.getAttribute('data-envs-i18n'));
    });
    document.title = t('envs.title') + ' · Bindery';
  }

  function button(key, cls, onClick) {
    var b = el('button', 'btn btn--sm ' + cls, t(key));
    b.type = 'button';
    b.addEventListener('click', function () { onClick(b); });
    return b;
  }

  function envRow(e) {
    var tr = el('tr');
    tr.setAttribute('data-env', e.EnvId);
    var name = el('td');
    name.appendChild(el('div', 'app-cell__name', e.EnvId));
    if (e.Port) name.appendChild(el('div', 'app-cell__appid', ':' + e.Port));
    tr.appendChild(name);
    var st = el('td', 'env-state', t('state.' + e.State));
    if (e.ErrorMessage) st.title = e.ErrorMessage;
    tr.appendChild(st);
    tr.appendChild(el('td', '', e.LatestVersion ? t('envs.latest', { n: e.LatestVersion }) : t('envs.noVersion')));
    var acts = el('td', 'actions');
    if (e.State !== 'DELETING')
      acts.appendChild(button('envs.delete', 'btn--secondary act-delete', function (b) { remove(b, e); }));
    tr.appendChild(acts);
    return tr;
  }

  function render() {
    var root = $('apps');
    root.textContent = '';
    var mps = links.filter(function (l) { return l.State === 'active' || l.State === 'revoked'; });
    $('no-apps').hidden = mps.length > 0;
    mps.forEach(function (l) {
      var card = el('section', 'card card--spaced');
      card.setAttribute('data-app', l.AuthorizerAppId);
      var head = el('div', 'method-row');
      var text = el('div', 'method-row__text');
      text.appendChild(el('h2', 'card__title', (l.NickName || l.AuthorizerAppId) + ' · ' + l.AuthorizerAppId));
      head.appendChild(text);
      head.appendChild(button('envs.create', 'btn--primary act-create', function (b) { create(b, l.AuthorizerAppId); }));
      card.appendChild(head);
      var mine = envs.filter(function (e) { return e.AppId === l.AuthorizerAppId; });
      if (!mine.length) {
        card.appendChild(el('p', 'card__empty', t('envs.none')));
      } else {
        var wrap = el('div', 'table-wrap');
        var table = el('table', 'table');
        var thead = el('thead');
        var hr = el('tr');
        ['envs.col.env', 'envs.col.state', 'envs.col.versions', 'envs.col.actions'].forEach(function (k) {
          var th = el('th', '', t(k));
          th.scope = 'col';
          hr.appendChild(th);
        });
        thead.appendChild(hr);
        table.appendChild(thead);
        var body = el('tbody');
        mine.forEach(function (e) { body.appendChild(envRow(e)); });
        table.appendChild(body);
        wrap.appendChild(table);
        card.appendChild(wrap);
      }
      root.appendChild(card);
    });
  }

  // Follows a provisioning env with the long-poll until it settles.
  async function follow(e) {
    var seq = e.StateSeq;
    for (var i = 0; i < 30; i++) {
      var r = await action('DescribeEnvironment', { EnvId: e.EnvId, WaitSeq: seq, WaitSeconds: 10 });
      seq = r.Environment.StateSeq;
      envs = envs.map(function (x) { return x.EnvId === e.EnvId ? r.Environment : x; });
      render();
      if (r.Environment.State !== 'PROVISIONING') return;
    }
  }

  async function create(b, appid) {
    b.disabled = true;
    $('page-error').hidden = true;
    try {
      var r = await action('CreateEnvironment', { AppId: appid, ClientToken: appid + '-' + Date.now() });
      envs.push(r.Environment);
      render();
      await follow(r.Environment);
    } catch (err) {
      fail(err);
    }
    b.disabled = false;
  }

  async function remove(b, e) {
    if (!window.confirm(t('envs.confirm', { env: e.EnvId }))) return;
    b.disabled = true;
    try {
      await action('DeleteEnvironment', { EnvId: e.EnvId });
      await load();
    } catch (err) {
      fail(err);
      b.disabled = false;
    }
  }

  async function load() {
    try {
      var s = await api.getSession();
      csrf = s.CsrfToken;
      $('topbar-email').textContent = s.Email || s.Uin;
      $('topbar-user').hidden = false;
      links = (await action('ListLinks', { Limit: 200 })).Links.filter(function (l) { return l.AppType === 'MiniProgram'; });
      envs = (await action('DescribeEnvironments', { Limit: 100 })).Environments;
      $('loading').hidden = true;
      render();
      envs.filter(function (e) { return e.State === 'PROVISIONING'; }).forEach(follow);
    } catch (err) {
      $('loading').hidden = true;
      fail(err);
    }
  }

  document.querySelectorAll('.lang-switch__btn').forEach(function (b) {
    b.addEventListener('click', function () {
      window.setTimeout(function () { translateStatic(); render(); }, 0);
    });
  });
  translateStatic();
  load();
})();
