// The console pages' behaviour: the sign-in and sign-up forms and the
// account information page. Each page names itself in <body data-page>.
// Texts come from i18n.js (window.BinderyI18n), which loads first.
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var t = i18n.t;

  var SESSION_INVALID = 'AuthFailure.SessionInvalid';
  var CSRF_INVALID = 'AuthFailure.CsrfTokenInvalid';

  function $(id) {
    return document.getElementById(id);
  }

  // Sets el's text from the dictionary and keeps the key on the element, so
  // that a later language switch retranslates it.
  function setText(el, key, vars) {
    if (vars)
      el.removeAttribute('data-i18n');
    else
      el.setAttribute('data-i18n', key);
    el.textContent = t(key, vars);
  }

  // Sets el's text to a value that is not translated (server data).
  function setRaw(el, text) {
    el.removeAttribute('data-i18n');
    el.textContent = text;
  }

  /* ---- Talking to the server ------------------------------------------ */

  // A failed call: code and message as the server sent them (code is empty
  // when the server could not be reached), and the Retry-After seconds when
  // the server asked to wait.
  function ApiError(code, message, retryAfter) {
    this.code = code;
    this.message = message;
    this.retryAfter = retryAfter || 0;
  }

  // Calls a console endpoint and resolves with the envelope's Response
  // fields, or rejects with an ApiError.
  async function call(method, path, body, headers) {
    var init = { method: method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    Object.keys(headers || {}).forEach(function (name) {
      init.headers[name] = headers[name];
    });
    var res, data;
    try {
      res = await fetch(path, init);
      data = await res.json();
    } catch (e) {
      throw new ApiError('', t('err.network'));
    }
    var resp = data && data.Response;
    if (!resp)
      throw new ApiError('', t('err.network'));
    if (resp.Error) {
      var wait = parseInt(res.headers.get('Retry-After') || '0', 10);
      throw new ApiError(resp.Error.Code || '', resp.Error.Message || '', wait > 0 ? wait : 0);
    }
    return resp;
  }

  function getSession() {
    return call('GET', '/console/session');
  }

  /* ---- Error boxes ---------------------------------------------------- */

  // Shows err in the alert box whose ids start with prefix: a title in the
  // page's language (specific to the error code when the dictionary has
  // one, else fallbackKey), the server's own message, and its code.
  function showError(prefix, fallbackKey, err) {
    var box = $(prefix);
    var codeKey = 'err.' + err.code;
    setText($(prefix + '-title'), err.code && i18n.has(codeKey) ? codeKey : fallbackKey);
    if (err.code)
      setRaw($(prefix + '-message'), err.message);
    else
      setText($(prefix + '-message'), 'err.network');
    var codeEl = $(prefix + '-code');
    setRaw(codeEl, err.code);
    codeEl.hidden = !err.code;
    box.hidden = false;
  }

  function hideError(prefix) {
    $(prefix).hidden = true;
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

  /* ---- Sign-in and sign-up ------------------------------------------ */

  // Where to go after signing in: /account, or the console page that sent
  // the user here (?next=, e.g. the device approval page). Only a few known
  // paths are accepted, never another site. Kept in sessionStorage for the
  // scan-to-log-in round trip through WeChat (links.js reads it back).
  var NEXT_KEY = 'bindery.next';
  var NEXT_RE = /^\/(device|devices|account|center)(\?user_code=[A-Za-z-]{1,16})?$/;

  function nextPage() {
    var next = new URLSearchParams(window.location.search).get('next') || '';
    try {
      if (!NEXT_RE.test(next)) {
        window.sessionStorage.removeItem(NEXT_KEY);
        return '/account';
      }
      window.sessionStorage.setItem(NEXT_KEY, next);
    } catch (e) {
      // Without storage a WeChat sign-in lands on the account page.
    }
    return NEXT_RE.test(next) ? next : '/account';
  }

  i18n.extend({
    'zh-CN': {
      'login.modeLabel': '登录方式',
      'login.modeRoot': '主账号登录',
      'login.modeSub': '子用户登录',
      'login.subLead': '子用户使用主账号 ID、子用户名和密码登录。',
      'form.ownerUin': '主账号 ID',
      'form.userName': '子用户名',
      'err.InvalidParameter.UserNameIllegal': '子用户名不符合规则',
      'err.subLogin': '子用户登录失败',
      'err.FailedOperation.LoginFailed.sub': '主账号 ID、子用户名或密码错误'
    },
    en: {
      'login.modeLabel': 'Sign-in type',
      'login.modeRoot': 'Root account',
      'login.modeSub': 'Sub-user',
      'login.subLead': 'A sub-user signs in with the owner account ID, the user name and the password.',
      'form.ownerUin': 'Owner account ID',
      'form.userName': 'Sub-user name',
      'err.InvalidParameter.UserNameIllegal': 'The sub-user name is not valid',
      'err.subLogin': 'Sub-user sign-in failed',
      'err.FailedOperation.LoginFailed.sub': 'Wrong owner account ID, user name or password'
    }
  });

  // Which field an error code is about, to mark it invalid.
  var FIELD_OF_CODE = {
    'InvalidParameterValue': 'email',
    'ResourceInUse.Email': 'email',
    'InvalidParameter.PasswordViolatedRules': 'password',
    'FailedOperation.LoginFailed': 'password'
  };
  var SUB_FIELD_OF_CODE = {
    'InvalidParameterValue': 'sub-owner',
    'MissingParameter': 'sub-owner',
    'InvalidParameter.UserNameIllegal': 'sub-name',
    'FailedOperation.LoginFailed': 'sub-password'
  };

  // One credentials form: o.form, o.inputs, o.button, o.label, o.errorPrefix,
  // o.fieldOf (code -> input id), o.body() (the request body), o.endpoint,
  // o.errorTitle, o.busyKey, o.titleOf (code -> a more specific title key).
  function initForm(o) {
    var idleKey = o.label.getAttribute('data-i18n');
    var busy = false;
    var waitUntil = 0;
    var waitTimer = null;

    function markInvalid(code) {
      var field = o.fieldOf[code];
      o.inputs.forEach(function (input) {
        if (input.id === field)
          input.setAttribute('aria-invalid', 'true');
        else
          input.removeAttribute('aria-invalid');
      });
    }

    // After RequestLimitExceeded.LoginThrottled the button stays disabled
    // and counts down the seconds the server asked for.
    function tick() {
      var left = Math.ceil((waitUntil - Date.now()) / 1000);
      if (left > 0) {
        setText(o.label, 'form.retryIn', { s: left });
        return;
      }
      clearInterval(waitTimer);
      waitTimer = null;
      o.button.disabled = false;
      setText(o.label, idleKey);
    }

    function waitFor(seconds) {
      waitUntil = Date.now() + seconds * 1000;
      o.button.disabled = true;
      if (!waitTimer)
        waitTimer = setInterval(tick, 1000);
      tick();
    }

    // An edited field is no longer the one the last error was about.
    o.inputs.forEach(function (input) {
      input.addEventListener('input', function () {
        input.removeAttribute('aria-invalid');
      });
    });

    o.form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      if (busy || waitTimer)
        return;
      busy = true;
      hideError(o.errorPrefix);
      setBusy(o.button, o.label, true, o.busyKey, idleKey);
      try {
        await call('POST', o.endpoint, o.body());
        // Stay busy while the browser leaves for the account page.
        window.location.assign(nextPage());
        return;
      } catch (err) {
        showError(o.errorPrefix, o.errorTitle, err);
        var specific = o.titleOf && o.titleOf[err.code];
        if (specific)
          setText($(o.errorPrefix + '-title'), specific);
        markInvalid(err.code);
        busy = false;
        setBusy(o.button, o.label, false, o.busyKey, idleKey);
        if (err.retryAfter)
          waitFor(err.retryAfter);
      }
    });

    document.addEventListener('bindery:langchange', function () {
      if (waitTimer)
        tick();
    });

    // Coming back with the Back button restores the page as it was left,
    // possibly mid-request: make it usable again.
    window.addEventListener('pageshow', function (ev) {
      if (ev.persisted && busy) {
        busy = false;
        setBusy(o.button, o.label, false, o.busyKey, idleKey);
      }
    });
  }

  // The login page's two modes: root account (email) and sub-user (owner
  // account ID + name). ?owner=<account ID> opens the sub-user mode with the
  // owner filled in (the login link an owner gives its sub-users).
  function initLoginModes() {
    var tabs = [$('mode-root'), $('mode-sub')];
    var panels = { 'mode-root': $('auth-form'), 'mode-sub': $('sub-form') };
    function select(id, focus) {
      tabs.forEach(function (tab) {
        var on = tab.id === id;
        tab.setAttribute('aria-selected', String(on));
        tab.tabIndex = on ? 0 : -1;
        panels[tab.id].hidden = !on;
      });
      $('login-lead').setAttribute('data-i18n', id === 'mode-sub' ? 'login.subLead' : 'login.lead');
      $('login-lead').textContent = t($('login-lead').getAttribute('data-i18n'));
      if (focus)
        (id === 'mode-sub' ? ($('sub-owner').value ? $('sub-name') : $('sub-owner')) : $('email')).focus();
    }
    tabs.forEach(function (tab, i) {
      tab.addEventListener('click', function () {
        select(tab.id, true);
      });
      tab.addEventListener('keydown', function (ev) {
        if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight')
          return;
        var next = tabs[(i + 1) % tabs.length];
        select(next.id, false);
        next.focus();
      });
    });
    var owner = new URLSearchParams(window.location.search).get('owner');
    if (owner && /^\d{1,12}$/.test(owner)) {
      $('sub-owner').value = owner;
      select('mode-sub', true);
    } else {
      select('mode-root', false);
    }
  }

  function initAuthPage() {
    var email = $('email');
    var password = $('password');
    var form = $('auth-form');
    initForm({
      form: form, inputs: [email, password], button: $('submit'), label: $('submit-label'),
      errorPrefix: 'form-error', fieldOf: FIELD_OF_CODE,
      endpoint: form.getAttribute('data-endpoint'),
      errorTitle: form.getAttribute('data-error-title'),
      busyKey: form.getAttribute('data-busy-label'),
      body: function () {
        return { Email: email.value.trim(), Password: password.value };
      }
    });
    if ($('sub-form')) {
      var owner = $('sub-owner');
      var name = $('sub-name');
      var subPassword = $('sub-password');
      initForm({
        form: $('sub-form'), inputs: [owner, name, subPassword], button: $('sub-submit'),
        label: $('sub-submit-label'), errorPrefix: 'sub-error', fieldOf: SUB_FIELD_OF_CODE,
        endpoint: '/console/login/subuser', errorTitle: 'err.subLogin', busyKey: 'login.busy',
        titleOf: { 'FailedOperation.LoginFailed': 'err.FailedOperation.LoginFailed.sub' },
        body: function () {
          return { OwnerUin: owner.value.trim(), UserName: name.value.trim(), Password: subPassword.value };
        }
      });
      initLoginModes();
    }

    // Already signed in: the account page is where this page would lead.
    var next = nextPage();
    getSession().then(function () {
      window.location.replace(next);
    }, function () { /* not signed in: stay */ });
  }

  /* ---- Account information ------------------------------------------ */

  function initAccountPage() {
    var uin = '';
    var copyTimer = null;
    var shell = window.BinderyShell;

    function render(s) {
      uin = s.Uin;
      setRaw($('uin'), s.Uin);
      setRaw($('email'), s.Email || '—');
      setRaw($('appid'), String(s.AppId));
      var via = $('via');
      if (i18n.has('via.' + s.RegisteredVia))
        setText(via, 'via.' + s.RegisteredVia);
      else
        setRaw(via, s.RegisteredVia || '—');
      var kind = $('kind');
      if (i18n.has('kind.' + s.Kind))
        setText(kind, 'kind.' + s.Kind);
      else
        setRaw(kind, s.Kind || '—');
      var showOwner = Boolean(s.OwnerUin) && s.OwnerUin !== s.Uin;
      setRaw($('owner'), showOwner ? s.OwnerUin : '');
      $('owner-row').hidden = !showOwner;
      var showName = Boolean(s.UserName);
      setRaw($('user-name'), s.UserName || '');
      $('user-name-row').hidden = !showName;
      $('loading').hidden = true;
      $('account-card').hidden = false;
    }

    async function copyText(text) {
      if (navigator.clipboard && window.isSecureContext) {
        try {
          await navigator.clipboard.writeText(text);
          return true;
        } catch (e) {
          // Fall through to the selection-based copy.
        }
      }
      var helper = document.createElement('textarea');
      helper.value = text;
      helper.setAttribute('readonly', '');
      helper.className = 'clipboard-helper';
      document.body.appendChild(helper);
      helper.select();
      var ok = false;
      try {
        ok = document.execCommand('copy');
      } catch (e) {
        ok = false;
      }
      document.body.removeChild(helper);
      return ok;
    }

    // Selects the account ID on the page so that the user can copy it by
    // hand when the clipboard is out of reach.
    function selectUin() {
      var range = document.createRange();
      range.selectNodeContents($('uin'));
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }

    $('copy-uin').addEventListener('click', async function () {
      var status = $('copy-status');
      var ok = uin && await copyText(uin);
      if (!ok)
        selectUin();
      status.classList.toggle('is-error', !ok);
      setText(status, ok ? 'account.copied' : 'account.copyFailed');
      clearTimeout(copyTimer);
      copyTimer = setTimeout(function () {
        setRaw(status, '');
      }, ok ? 2500 : 6000);
    });

    shell.ready.then(render);
  }

  // For the link pages' script (links.js), which loads after this one.
  window.BinderyConsole = {
    call: call, getSession: getSession, ApiError: ApiError, nextRe: NEXT_RE, nextKey: NEXT_KEY
  };

  var page = document.body.getAttribute('data-page');
  if (page === 'login' || page === 'signup')
    initAuthPage();
  else if (page === 'account')
    // After shell.js (loaded after this script) has set up BinderyShell.
    document.addEventListener('DOMContentLoaded', initAccountPage);
})();
