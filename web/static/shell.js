// The signed-in console's frame, shared by every page behind a session: the
// skip link, the top bar (brand, language switch, the signed-in identity
// with its user menu and 切换开发商, 退出登录), the banner shown while working
// in another account as a collaborator, and the side navigation. A page
// declares <body class="console" data-page="..."> and holds
// <div class="layout"><main id="main">…</main></div>; this script renders
// the rest around it. Loads after i18n.js and console.js (BinderyConsole),
// before the page's own script, which waits for BinderyShell.ready.
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var t = i18n.t;
  var api = window.BinderyConsole;

  var SESSION_INVALID = 'AuthFailure.SessionInvalid';
  var CSRF_INVALID = 'AuthFailure.CsrfTokenInvalid';

  // The side navigation, in one place: a later page adds one line here.
  var NAV = [
    { href: '/account', key: 'nav.account' },
    { href: '/center', key: 'nav.center' },
    { href: '/envs', key: 'nav.envs' },
    { href: '/devices', key: 'nav.devices', also: ['/device'] },
    {
      key: 'nav.cam', items: [
        { href: '/cam/users', key: 'nav.camUsers' },
        { href: '/cam/groups', key: 'nav.camGroups' },
        { href: '/cam/policies', key: 'nav.camPolicies' },
        { href: '/cam/keys', key: 'nav.camKeys' }
      ]
    }
  ];

  i18n.extend({
    'zh-CN': {
      'nav.envs': '开发环境',
      'nav.devices': '开发者工具',
      'nav.cam': '访问管理',
      'nav.camUsers': '用户',
      'nav.camGroups': '用户组',
      'nav.camPolicies': '策略',
      'nav.camKeys': 'API 密钥',
      'shell.menu': '用户菜单',
      'shell.uin': '账号 ID',
      'shell.owner': '主账号 ID',
      'shell.switch': '切换开发商',
      'shell.switchHint': '选择你作为协作者加入的账号，以协作者身份在其中工作。',
      'shell.switchNone': '还没有账号把你添加为协作者。',
      'shell.switchSub': '子用户不能切换开发商。',
      'shell.account': '账号 {uin}',
      'shell.current': '当前',
      'shell.banner': '正在以协作者身份访问账号 {owner}',
      'shell.switchBack': '切换回自己的账号',
      'shell.switching': '正在切换…',
      'err.switch': '切换失败',
      'err.AuthFailure.UnauthorizedOperation': '没有权限',
      'lerr.AuthFailure.UnauthorizedOperation': '没有权限',
      'err.ResourceNotFound.UserNotExist': '没有找到该用户或协作关系',
      'account.userName': '用户名'
    },
    en: {
      'nav.envs': 'Environments',
      'nav.devices': 'Developer tools',
      'nav.cam': 'Access management',
      'nav.camUsers': 'Users',
      'nav.camGroups': 'User groups',
      'nav.camPolicies': 'Policies',
      'nav.camKeys': 'API keys',
      'shell.menu': 'User menu',
      'shell.uin': 'Account ID',
      'shell.owner': 'Owner account ID',
      'shell.switch': 'Switch developer',
      'shell.switchHint': 'Pick an account that added you as a collaborator to work in it.',
      'shell.switchNone': 'No account has added you as a collaborator yet.',
      'shell.switchSub': 'A sub-user cannot switch developer.',
      'shell.account': 'Account {uin}',
      'shell.current': 'current',
      'shell.banner': 'Working in account {owner} as a collaborator',
      'shell.switchBack': 'Switch back to my account',
      'shell.switching': 'Switching…',
      'err.switch': 'Switching failed',
      'err.AuthFailure.UnauthorizedOperation': 'Not authorized',
      'lerr.AuthFailure.UnauthorizedOperation': 'Not authorized',
      'err.ResourceNotFound.UserNotExist': 'No such user or collaboration',
      'account.userName': 'User name'
    }
  });

  var BRAND_MARK = '<svg class="brand__mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">' +
    '<rect class="brand__mark-bg" x="1" y="1" width="30" height="30" rx="7"/>' +
    '<path class="brand__mark-fg" d="M11 8.5v15M11 8.5h5.5a3.5 3.5 0 0 1 0 7H11M11 15.5h6.5a4 4 0 0 1 0 8H11"/></svg>';

  // Static markup only: every server value is set with textContent below.
  var HEADER =
    '<a class="brand" href="/account">' + BRAND_MARK +
    '<span class="brand__name">Bindery</span>' +
    '<span class="brand__product" data-i18n="brand.console">控制台</span></a>' +
    '<div class="topbar__actions">' +
    '<div class="lang-switch lang-switch--dark" role="group" data-i18n-attr="aria-label:lang.label">' +
    '<button type="button" class="lang-switch__btn" data-lang="zh-CN" lang="zh-CN">中文</button>' +
    '<button type="button" class="lang-switch__btn" data-lang="en" lang="en">English</button></div>' +
    '<div class="user-menu">' +
    '<button id="user-menu-button" class="user-menu__button" type="button" aria-haspopup="true"' +
    ' aria-expanded="false" aria-controls="user-menu" hidden>' +
    '<span class="visually-hidden" data-i18n="account.user">当前登录账号</span>' +
    '<span id="topbar-email" class="topbar__user"></span>' +
    '<svg class="user-menu__caret" viewBox="0 0 12 12" aria-hidden="true" focusable="false"><path d="M2.5 4.5 6 8l3.5-3.5"/></svg>' +
    '</button>' +
    '<div id="user-menu" class="user-menu__panel" hidden>' +
    '<dl class="user-menu__who">' +
    '<div><dt data-i18n="shell.uin">账号 ID</dt><dd id="menu-uin" translate="no"></dd></div>' +
    '<div id="menu-owner-row" hidden><dt data-i18n="shell.owner">主账号 ID</dt><dd id="menu-owner" translate="no"></dd></div>' +
    '<div><dt data-i18n="account.kind">账号类型</dt><dd id="menu-kind"></dd></div>' +
    '</dl>' +
    '<section class="user-menu__section" aria-labelledby="switch-title">' +
    '<h2 id="switch-title" class="user-menu__title" data-i18n="shell.switch">切换开发商</h2>' +
    '<p id="switch-hint" class="user-menu__hint"></p>' +
    '<ul id="switch-list" class="user-menu__list"></ul>' +
    '</section>' +
    '</div></div>' +
    '<button id="logout" class="btn btn--topbar" type="button" disabled>' +
    '<span class="btn__spinner" aria-hidden="true"></span>' +
    '<span class="btn__label" id="logout-label" data-i18n="account.logout">退出登录</span></button>' +
    '</div>';

  var BANNER =
    '<p class="collab-banner__text" id="collab-banner-text"></p>' +
    '<button id="switch-back" class="btn btn--sm btn--secondary" type="button">' +
    '<span class="btn__spinner" aria-hidden="true"></span>' +
    '<span class="btn__label" id="switch-back-label" data-i18n="shell.switchBack">切换回自己的账号</span></button>';

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

  function setText(node, key, vars) {
    if (vars)
      node.removeAttribute('data-i18n');
    else
      node.setAttribute('data-i18n', key);
    node.textContent = t(key, vars);
  }

  function setRaw(node, text) {
    node.removeAttribute('data-i18n');
    node.textContent = text;
  }

  /* ---- Rendering ------------------------------------------------------- */

  // The entry of path: its own page, a page below it (/envs/ENV) or one of
  // its other paths (/device for /devices).
  function isCurrent(item, path) {
    return item.href === path || path.indexOf(item.href + '/') === 0 ||
      (item.also || []).indexOf(path) >= 0;
  }

  function navLink(item, path) {
    var li = el('li');
    var a = el('a', 'sidenav__link');
    a.href = item.href;
    a.setAttribute('data-i18n', item.key);
    if (isCurrent(item, path))
      a.setAttribute('aria-current', 'page');
    li.appendChild(a);
    return li;
  }

  function renderNav(path) {
    var nav = el('nav', 'sidenav');
    nav.setAttribute('data-i18n-attr', 'aria-label:nav.label');
    var list = el('ul', 'sidenav__list');
    NAV.forEach(function (item) {
      if (!item.items) {
        list.appendChild(navLink(item, path));
        return;
      }
      var li = el('li', 'sidenav__group');
      var title = el('p', 'sidenav__group-title');
      title.id = 'nav-group-' + item.key.replace(/\W/g, '-');
      title.setAttribute('data-i18n', item.key);
      li.appendChild(title);
      var sub = el('ul', 'sidenav__list sidenav__list--sub');
      sub.setAttribute('aria-labelledby', title.id);
      item.items.forEach(function (s) {
        sub.appendChild(navLink(s, path));
      });
      li.appendChild(sub);
      list.appendChild(li);
    });
    nav.appendChild(list);
    return nav;
  }

  function renderFrame() {
    var body = document.body;
    var layout = body.querySelector('.layout');
    var skip = el('a', 'skip-link');
    skip.href = '#main';
    skip.setAttribute('data-i18n', 'a11y.skip');
    var header = el('header', 'topbar');
    header.innerHTML = HEADER;
    var banner = el('div', 'collab-banner');
    banner.id = 'collab-banner';
    banner.setAttribute('role', 'region');
    banner.setAttribute('aria-labelledby', 'collab-banner-text');
    banner.hidden = true;
    banner.innerHTML = BANNER;
    body.insertBefore(skip, body.firstChild);
    body.insertBefore(header, layout);
    body.insertBefore(banner, layout);
    layout.insertBefore(renderNav(window.location.pathname), layout.firstChild);
    i18n.apply(document);
  }

  /* ---- State ----------------------------------------------------------- */

  var session = null;
  var accounts = null;

  function identityText(s) {
    if (s.Kind === 'sub_user')
      return s.UserName || s.Uin;
    return s.Email || s.Uin;
  }

  function renderSession(s) {
    setRaw($('topbar-email'), identityText(s));
    $('user-menu-button').hidden = false;
    $('logout').disabled = false;
    setRaw($('menu-uin'), s.Uin);
    var switched = s.OwnerUin !== s.Uin;
    setRaw($('menu-owner'), switched ? s.OwnerUin : '');
    $('menu-owner-row').hidden = !switched;
    setText($('menu-kind'), 'kind.' + s.Kind);
    var banner = $('collab-banner');
    if (s.Kind === 'collaborator') {
      setText($('collab-banner-text'), 'shell.banner', { owner: s.OwnerUin });
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    document.body.setAttribute('data-principal', s.Kind);
  }

  function renderAccounts() {
    var list = $('switch-list');
    var hint = $('switch-hint');
    list.textContent = '';
    if (session.Kind === 'sub_user') {
      setText(hint, 'shell.switchSub');
      return;
    }
    var items = (accounts || []).slice();
    if (session.Kind === 'collaborator')
      items.unshift({ OwnerUin: session.Uin, Home: true });
    setText(hint, items.length ? 'shell.switchHint' : 'shell.switchNone');
    items.forEach(function (a) {
      var li = el('li');
      var b = el('button', 'user-menu__item switch-to');
      b.type = 'button';
      b.setAttribute('data-owner', a.OwnerUin);
      if (a.Home) {
        setText(b, 'shell.switchBack');
      } else {
        b.appendChild(el('span', 'user-menu__item-name', t('shell.account', { uin: a.OwnerUin })));
        if (a.OwnerUin === session.OwnerUin) {
          b.setAttribute('aria-current', 'true');
          b.appendChild(el('span', 'tag', t('shell.current')));
        }
      }
      b.addEventListener('click', function () {
        switchTo(a.Home ? '0' : a.OwnerUin, b);
      });
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  async function loadAccounts() {
    try {
      accounts = (await api.call('GET', '/console/switch')).Accounts;
    } catch (err) {
      accounts = [];
    }
    renderAccounts();
  }

  /* ---- Calls behind the session --------------------------------------- */

  // A state-changing console request with the session's CSRF token. When
  // another tab signed in again or switched developer the token is stale:
  // take the current one and try once more.
  async function post(path, body, headers) {
    function send() {
      var h = { 'X-CSRF-Token': session ? session.CsrfToken : '' };
      Object.keys(headers || {}).forEach(function (k) {
        h[k] = headers[k];
      });
      return api.call('POST', path, body, h);
    }
    try {
      return await send();
    } catch (err) {
      if (err.code !== CSRF_INVALID)
        throw err;
      session = await api.getSession();
      return send();
    }
  }

  function action(name, params) {
    return post('/console/api', params || {}, { 'X-TC-Action': name });
  }

  // The session is gone: to the login page. A page marked
  // <body data-signin-return> (the device approval page, whose URL carries
  // the tool's code) asks to come back to itself after signing in, when
  // the login page accepts it as ?next=.
  function leave() {
    var here = window.location.pathname + window.location.search;
    if (document.body.hasAttribute('data-signin-return') && api.nextRe.test(here))
      window.location.replace('/?next=' + encodeURIComponent(here));
    else
      window.location.replace('/');
  }

  async function switchTo(owner, button) {
    var back = $('switch-back');
    var busy = button || back;
    busy.disabled = true;
    busy.classList.add('is-busy');
    try {
      await post('/console/switch', { OwnerUin: owner });
      // The new principal sees this page differently: load it again.
      window.location.reload();
    } catch (err) {
      busy.disabled = false;
      busy.classList.remove('is-busy');
      if (err.code === SESSION_INVALID)
        return leave();
      shell.showError('page-error', 'err.switch', err);
      closeMenu();
    }
  }

  async function signOut() {
    var logout = $('logout');
    logout.disabled = true;
    logout.classList.add('is-busy');
    setText($('logout-label'), 'account.loggingOut');
    try {
      await post('/console/logout', {});
    } catch (err) {
      if (err.code !== SESSION_INVALID) {
        logout.disabled = false;
        logout.classList.remove('is-busy');
        setText($('logout-label'), 'account.logout');
        shell.showError('page-error', 'err.logout', err);
        return;
      }
    }
    window.location.replace('/');
  }

  /* ---- The user menu -------------------------------------------------- */

  function closeMenu() {
    $('user-menu').hidden = true;
    $('user-menu-button').setAttribute('aria-expanded', 'false');
  }

  function bindMenu() {
    var button = $('user-menu-button');
    var panel = $('user-menu');
    button.addEventListener('click', function () {
      var open = panel.hidden;
      panel.hidden = !open;
      button.setAttribute('aria-expanded', String(open));
      // A sub-user has nothing to switch to: no need to ask.
      if (open && accounts === null && session && session.Kind === 'sub_user') {
        accounts = [];
        renderAccounts();
      } else if (open && accounts === null) {
        loadAccounts();
      }
    });
    document.addEventListener('click', function (ev) {
      if (!panel.hidden && !ev.target.closest('.user-menu'))
        closeMenu();
    });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && !panel.hidden) {
        closeMenu();
        button.focus();
      }
    });
    $('switch-back').addEventListener('click', function () {
      switchTo('0', null);
    });
    $('logout').addEventListener('click', signOut);
    document.addEventListener('bindery:langchange', function () {
      if (session) {
        renderSession(session);
        if (accounts !== null)
          renderAccounts();
      }
    });
  }

  /* ---- Errors, shared by the page scripts ------------------------------ */

  // Shows err in the alert box whose ids start with prefix: a title for its
  // code when the dictionary has one (else fallbackKey), the server's own
  // message (for a denial, the spec's "you are not authorized to perform
  // operation (…)"), and the code.
  function showError(prefix, fallbackKey, err) {
    var key = 'err.' + err.code;
    setText($(prefix + '-title'), err.code && i18n.has(key) ? key : fallbackKey);
    if (err.code)
      setRaw($(prefix + '-message'), err.message);
    else
      setText($(prefix + '-message'), 'err.network');
    setRaw($(prefix + '-code'), err.code || '');
    $(prefix + '-code').hidden = !err.code;
    $(prefix).hidden = false;
  }

  /* ---- Start ------------------------------------------------------------ */

  var resolveReady;
  var shell = {
    // Resolves with the session once the frame shows it; never resolves
    // when the browser is sent to the login page instead.
    ready: new Promise(function (resolve) {
      resolveReady = resolve;
    }),
    session: function () {
      return session;
    },
    action: action,
    post: post,
    showError: showError,
    leave: leave,
    SESSION_INVALID: SESSION_INVALID
  };
  window.BinderyShell = shell;

  async function load(first) {
    try {
      var s = await api.getSession();
      // Another tab switched developer or signed in as someone else: what
      // this page shows belongs to the old identity.
      if (session && (s.Uin !== session.Uin || s.OwnerUin !== session.OwnerUin)) {
        window.location.reload();
        return;
      }
      session = s;
      renderSession(s);
      if (first)
        resolveReady(s);
    } catch (err) {
      if (err.code === SESSION_INVALID)
        return leave();
      if (first) {
        var loading = $('loading');
        if (loading)
          loading.hidden = true;
        showError('page-error', 'err.session', err);
      }
    }
  }

  renderFrame();
  bindMenu();
  load(true);
  // A page restored by the Back button, or a tab left open until the
  // session ended or changed, checks the session again.
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted)
      load(false);
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && session)
      load(false);
  });
})();
