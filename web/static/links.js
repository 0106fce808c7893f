// The WeChat link pages: the login page's 【微信公众号】 button, 账号中心
// (/center), Bindery's entry page to WeChat's authorization page
// (/wechat/authorize) and the page WeChat sends the browser back to
// (/wechat/authorized). Loads after i18n.js and console.js, whose call()
// and getSession() it uses (window.BinderyConsole).
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var t = i18n.t;
  var api = window.BinderyConsole;

  var SESSION_INVALID = 'AuthFailure.SessionInvalid';
  var NOTICE_KEY = 'bindery.linkNotice';

  function $(id) {
    return document.getElementById(id);
  }

  function setText(el, key, vars) {
    if (vars)
      el.removeAttribute('data-i18n');
    else
      el.setAttribute('data-i18n', key);
    el.textContent = t(key, vars);
  }

  function setRaw(el, text) {
    el.removeAttribute('data-i18n');
    el.textContent = text;
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className)
      e.className = className;
    if (text !== undefined)
      e.textContent = text;
    return e;
  }

  // Shows err in the alert box whose ids start with prefix: a title for the
  // error code when the dictionary has one, the server's message, the code.
  function showError(prefix, fallbackKey, err) {
    var key = 'lerr.' + err.code;
    setText($(prefix + '-title'), err.code && i18n.has(key) ? key : fallbackKey);
    if (err.code)
      setRaw($(prefix + '-message'), err.message);
    else
      setText($(prefix + '-message'), 'err.network');
    setRaw($(prefix + '-code'), err.code || '');
    $(prefix + '-code').hidden = !err.code;
    $(prefix).hidden = false;
  }

  function setBusy(button, labelEl, busy, busyKey, idleKey) {
    button.disabled = busy;
    button.classList.toggle('is-busy', busy);
    if (busy)
      button.setAttribute('aria-busy', 'true');
    else
      button.removeAttribute('aria-busy');
    setText(labelEl, busy ? busyKey : idleKey);
  }

  // "2026-11-25 07:00:00" (UTC, as the API answers) in the reader's time.
  function localTime(s) {
    if (!s)
      return '';
    var d = new Date(s.replace(' ', 'T') + 'Z');
    if (isNaN(d.getTime()))
      return s;
    return d.toLocaleString(i18n.current(), { hour12: false });
  }

  function queryParam(name) {
    return new URLSearchParams(window.location.search).get(name) || '';
  }

  // A notice for the next page (kept across one navigation).
  function leaveNotice(key, name) {
    try {
      window.sessionStorage.setItem(NOTICE_KEY, JSON.stringify({ key: key, name: name }));
    } catch (e) {
      // Without storage the next page shows no notice; nothing else changes.
    }
  }

  function takeNotice() {
    try {
      var v = window.sessionStorage.getItem(NOTICE_KEY);
      window.sessionStorage.removeItem(NOTICE_KEY);
      return v ? JSON.parse(v) : null;
    } catch (e) {
      return null;
    }
  }

  // The console page the login page was asked to return to (console.js).
  function takeNext(fallback) {
    try {
      var next = window.sessionStorage.getItem(api.nextKey);
      window.sessionStorage.removeItem(api.nextKey);
      return next && api.nextRe.test(next) ? next : fallback;
    } catch (e) {
      return fallback;
    }
  }

  /* ---- The login page's WeChat button --------------------------------- */

  function initLoginButton() {
    var button = $('wechat-login');
    var label = $('wechat-login-label');
    if (!button)
      return;
    button.addEventListener('click', async function () {
      setBusy(button, label, true, 'login.wechatBusy', 'login.wechat');
      $('form-error').hidden = true;
      try {
        var r = await api.call('POST', '/console/wechat/login', {});
        window.location.assign(r.AuthorizationUrl);
      } catch (err) {
        showError('form-error', 'lerr.authorize', err);
        setBusy(button, label, false, 'login.wechatBusy', 'login.wechat');
      }
    });
    window.addEventListener('pageshow', function (ev) {
      if (ev.persisted)
        setBusy(button, label, false, 'login.wechatBusy', 'login.wechat');
    });
  }

  /* ---- Bindery's entry page to WeChat's ---------------------------------- */

  // Fetches WeChat's URL for this attempt and goes there from this page, so
  // that WeChat sees our origin in the Referer (its entry-domain rule).
  async function initAuthorize() {
    var go = $('go');
    var state = queryParam('state');
    // The state stays out of the history and of any later Referer.
    window.history.replaceState(null, '', '/wechat/authorize');
    try {
      var r = await api.call('GET', '/wechat/authorize/target?state=' + encodeURIComponent(state));
      go.href = r.Url;
      go.removeAttribute('aria-disabled');
      window.location.replace(r.Url);
    } catch (err) {
      go.hidden = true;
      showError('flow-error', 'lerr.authorize', err);
    }
  }

  /* ---- Back from WeChat ---------------------------------------------- */

  async function initAuthorized() {
    var state = queryParam('state');
    var code = queryParam('auth_code');
    // The code is spent either way; keep it out of the history.
    window.history.replaceState(null, '', '/wechat/authorized');
    try {
      var r = await api.call('POST', '/wechat/authorized', { State: state, AuthCode: code });
      // 账号中心 says what happened to the link; a sign-in lands on 账号信息.
      if (r.Purpose === 'link')
        leaveNotice('notice.' + r.Result, r.NickName || r.AuthorizerAppId);
      window.location.replace(r.Purpose === 'login' ? takeNext(r.Next) : r.Next);
    } catch (err) {
      $('working').hidden = true;
      setText($('auth-title'), 'authorized.failed');
      showError('flow-error', 'lerr.default', err);
    }
  }

  /* ---- 账号中心 ------------------------------------------------------- */

  // 账号中心 runs inside the console frame (shell.js): the session, its
  // CSRF token and 退出登录 are the frame's.
  function initCenter() {
    var shell = window.BinderyShell;
    var pendingUnlink = null;
    var lastLinks = [];
    var lastHistory = [];

    function action(name, params) {
      return shell.action(name, params);
    }

    function notice(key, name) {
      setText($('notice-text'), key, { name: name });
      $('notice').hidden = false;
    }

    function fail(err) {
      if (err.code === SESSION_INVALID) {
        window.location.replace('/');
        return;
      }
      showError('page-error', 'lerr.default', err);
    }

    function appCell(l) {
      var td = el('td', 'app-cell');
      td.appendChild(el('span', 'app-cell__name', l.NickName || l.AuthorizerAppId));
      var meta = el('span', 'app-cell__meta');
      var type = el('span', 'tag');
      setText(type, 'center.type.' + l.AppType);
      meta.appendChild(type);
      meta.appendChild(el('span', 'app-cell__appid', l.AuthorizerAppId));
      td.appendChild(meta);
      if (l.PrincipalName)
        td.appendChild(el('span', 'app-cell__principal', l.PrincipalName));
      return td;
    }

    function stateCell(l) {
      var td = el('td');
      var badge = el('span', 'badge badge--' + l.State);
      badge.setAttribute('data-state', l.State);
      setText(badge, 'state.' + l.State);
      td.appendChild(badge);
      if (l.RevokedReason) {
        var reason = el('p', 'state-reason');
        reason.setAttribute('data-reason', l.RevokedReason);
        setText(reason, 'reason.' + l.RevokedReason);
        td.appendChild(reason);
      }
      return td;
    }

    function timeLine(key, value, cls) {
      var p = el('p', 'time-line' + (cls ? ' ' + cls : ''));
      var name = el('span', 'time-line__name');
      setText(name, key);
      p.appendChild(name);
      var v = el('time', 'time-line__value');
      if (value) {
        v.textContent = localTime(value);
        v.setAttribute('datetime', value.replace(' ', 'T') + 'Z');
        v.title = value + ' UTC';
      } else {
        setText(v, 'center.never');
      }
      p.appendChild(v);
      return p;
    }

    function timesCell(l) {
      var td = el('td');
      td.appendChild(timeLine('center.linkedAt', l.LinkedAt));
      if (l.State === 'active')
        td.appendChild(timeLine('center.verifiedAt', l.LastVerifiedAt, 'time-line--verified'));
      if (l.State === 'revoked')
        td.appendChild(timeLine('center.revokedAt', l.RevokedAt));
      if (l.State === 'unlinked')
        td.appendChild(timeLine('center.unlinkedAt', l.UnlinkedAt));
      return td;
    }

    function actionButton(key, cls, onClick) {
      var b = el('button', 'btn btn--sm ' + cls);
      b.type = 'button';
      setText(b, key);
      b.addEventListener('click', function () {
        onClick(b);
      });
      return b;
    }

    function actionsCell(l) {
      var td = el('td', 'actions');
      if (l.State === 'revoked')
        td.appendChild(actionButton('center.reauthorize', 'btn--primary act-reauthorize', function (b) {
          startLink(b, l.AuthorizerAppId);
        }));
      if (l.State === 'active')
        td.appendChild(actionButton('center.verify', 'btn--secondary act-verify', function (b) {
          verify(b, l);
        }));
      if (l.State !== 'unlinked')
        td.appendChild(actionButton('center.unlink', 'btn--secondary act-unlink', function () {
          askUnlink(l);
        }));
      return td;
    }

    function renderLinks(links) {
      lastLinks = links;
      var body = $('links-body');
      body.textContent = '';
      links.forEach(function (l) {
        var tr = el('tr', 'link-row');
        tr.setAttribute('data-appid', l.AuthorizerAppId);
        tr.setAttribute('data-state', l.State);
        tr.appendChild(appCell(l));
        tr.appendChild(stateCell(l));
        tr.appendChild(timesCell(l));
        tr.appendChild(actionsCell(l));
        body.appendChild(tr);
      });
      $('links-empty').hidden = links.length > 0;
      $('links').hidden = links.length === 0;
      $('links-card').hidden = false;
    }

    function renderHistory(events) {
      lastHistory = events;
      var body = $('history-body');
      body.textContent = '';
      events.forEach(function (h) {
        var tr = el('tr', 'history-row');
        tr.setAttribute('data-event', h.Event);
        var time = el('td', 'history-row__time', localTime(h.Time));
        time.title = h.Time + ' UTC';
        tr.appendChild(time);
        tr.appendChild(el('td', 'app-cell__appid', h.AuthorizerAppId));
        var ev = el('td');
        if (i18n.has('event.' + h.Event))
          setText(ev, 'event.' + h.Event);
        else
          setRaw(ev, h.Event);
        tr.appendChild(ev);
        tr.appendChild(el('td', 'history-row__detail', h.Detail || ''));
        body.appendChild(tr);
      });
      $('history-empty').hidden = events.length > 0;
      $('history').hidden = events.length === 0;
      $('history-card').hidden = false;
    }

    async function refresh() {
      var links = await action('ListLinks', { Limit: 200 });
      var history = await action('ListLinkHistory', { Limit: 50 });
      renderLinks(links.Links);
      renderHistory(history.Events);
    }

    async function startLink(button, appid) {
      button.disabled = true;
      button.classList.add('is-busy');
      $('page-error').hidden = true;
      try {
        var r = await action('CreateLink', appid ? { AuthorizerAppId: appid } : {});
        window.location.assign(r.AuthorizationUrl);
      } catch (err) {
        fail(err);
        button.disabled = false;
        button.classList.remove('is-busy');
      }
    }

    async function verify(button, l) {
      button.disabled = true;
      $('page-error').hidden = true;
      $('notice').hidden = true;
      try {
        await action('VerifyLink', { AuthorizerAppId: l.AuthorizerAppId });
        notice('notice.Verified', l.NickName || l.AuthorizerAppId);
      } catch (err) {
        fail(err);
      }
      try {
        await refresh();
      } catch (err) {
        fail(err);
      }
    }

    function askUnlink(l) {
      pendingUnlink = l;
      setText($('confirm-title'), 'center.confirmTitle', { name: l.NickName || l.AuthorizerAppId });
      $('confirm-unlink').returnValue = '';
      $('confirm-unlink').showModal();
    }

    $('confirm-unlink').addEventListener('close', async function () {
      var l = pendingUnlink;
      pendingUnlink = null;
      if (!l || $('confirm-unlink').returnValue !== 'ok')
        return;
      $('page-error').hidden = true;
      $('notice').hidden = true;
      try {
        await action('DeleteLink', { AuthorizerAppId: l.AuthorizerAppId });
        notice('notice.Unlinked', l.NickName || l.AuthorizerAppId);
        await refresh();
      } catch (err) {
        fail(err);
      }
    });

    $('link-start').addEventListener('click', function () {
      startLink($('link-start'), '');
    });

    // Times and texts built here follow a language switch.
    document.addEventListener('bindery:langchange', function () {
      renderLinks(lastLinks);
      renderHistory(lastHistory);
    });

    async function load() {
      try {
        await refresh();
        $('methods-card').hidden = false;
        $('loading').hidden = true;
        var n = takeNotice();
        if (n && i18n.has(n.key))
          notice(n.key, n.name);
      } catch (err) {
        $('loading').hidden = true;
        fail(err);
      }
    }

    window.addEventListener('pageshow', function (ev) {
      if (ev.persisted)
        load();
    });
    shell.ready.then(load);
  }

  var page = document.body.getAttribute('data-page');
  if (page === 'login')
    initLoginButton();
  else if (page === 'center')
    // After shell.js (loaded after this script) has set up BinderyShell.
    document.addEventListener('DOMContentLoaded', initCenter);
  else if (page === 'authorize')
    initAuthorize();
  else if (page === 'authorized')
    initAuthorized();
})();
