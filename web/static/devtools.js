// The developer tools' console pages (docs/devtools.md): the device login
// approval page with the devices list (/device, /devices), and the pages of
// a console sign-in link (/console/signin/confirm, /console/signin/failed).
// Loads after i18n.js and console.js (call(), getSession()); the device page
// also loads shell.js, the console frame that gives it its session, the
// user menu, 退出登录 and actions with the session's CSRF token.
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var api = window.BinderyConsole;
  var t = i18n.t;

  var SESSION_INVALID = 'AuthFailure.SessionInvalid';

  i18n.extend({
    'zh-CN': {
      'title.device': '开发者工具登录 · Bindery 控制台',
      'title.signin': '进入控制台 · Bindery',
      'device.title': '开发者工具登录',
      'device.enter': '输入设备码',
      'device.enterHint': '运行 bindery login 的终端会显示一个 8 位字母的设备码（如 BCDF-GHJK）。只输入你自己刚刚在终端里看到的设备码。',
      'device.code': '设备码',
      'device.next': '下一步',
      'device.busy': '请稍候…',
      'device.confirm': '确认登录开发者工具',
      'device.confirmHint': '批准后，该工具将以你的身份在下面的账号中调用 API，直到你在下方的设备列表中撤销它。如果这不是你刚刚发起的登录，请拒绝。',
      'device.userCode': '设备码',
      'device.client': '工具',
      'device.ip': '发起地址',
      'device.time': '发起时间',
      'device.scope': '申请权限',
      'device.scopeValue': '以你的身份调用 Bindery API（{scope}）',
      'device.account': '操作账号',
      'device.accountValue': '账号 {owner}（你的身份：{uin}）',
      'device.approve': '批准',
      'device.deny': '拒绝',
      'device.approved': '已批准，可以回到终端继续操作。',
      'device.denied': '已拒绝这次登录。',
      'device.revoked': '已撤销设备 {id}。',
      'devices.title': '已登录的设备',
      'devices.none': '还没有设备登录过开发者工具。',
      'devices.col.device': '设备',
      'devices.col.state': '状态',
      'devices.col.times': '时间',
      'devices.col.actions': '操作',
      'devices.state.Active': '有效',
      'devices.state.Revoked': '已撤销',
      'devices.created': '登录于 {time}',
      'devices.used': '最近使用 {time}',
      'devices.revokedAt': '撤销于 {time}',
      'devices.revoke': '撤销',
      'derr.default': '操作失败',
      'derr.InvalidParameterValue.UserCode': '设备码不正确或已过期',
      'derr.RequestLimitExceeded.UserCode': '错误次数过多，请稍后再试',
      'derr.FailedOperation.DeviceAlreadyDecided': '这次登录已经处理过了',
      'derr.ResourceNotFound.Device': '没有这个设备',
      'derr.FailedOperation.ConsoleLinkInvalid': '登录链接无效',
      'signin.heading': '进入控制台',
      'signin.failed.unknown': '这个登录链接无效。',
      'signin.failed.used': '这个登录链接已经用过了。',
      'signin.failed.expired': '这个登录链接已经过期。',
      'signin.again': '请在终端再运行一次 bindery console，获取新的链接（每个链接只能使用一次，有效期很短）。',
      'signin.confirm': '这个链接将以账号 {uin}（主账号 {owner}）的身份登录，并打开 {page}。当前浏览器已登录了另一个身份，切换后原来的登录会退出。',
      'signin.switch': '切换并进入控制台',
      'signin.switchBusy': '正在进入…',
      'signin.stay': '保持当前登录'
    },
    en: {
      'title.device': 'Developer tool login · Bindery console',
      'title.signin': 'Open the console · Bindery',
      'device.title': 'Developer tool login',
      'device.enter': 'Enter the device code',
      'device.enterHint': 'The terminal running bindery login shows an 8-letter code (such as BCDF-GHJK). Only enter a code you have just seen in your own terminal.',
      'device.code': 'Device code',
      'device.next': 'Next',
      'device.busy': 'Please wait…',
      'device.confirm': 'Confirm the developer tool login',
      'device.confirmHint': 'Once approved, the tool calls the API as you, in the account below, until you revoke it in the devices list. If you did not just start this login, deny it.',
      'device.userCode': 'Device code',
      'device.client': 'Tool',
      'device.ip': 'Requested from',
      'device.time': 'Requested at',
      'device.scope': 'Asks for',
      'device.scopeValue': 'Calling the Bindery API as you ({scope})',
      'device.account': 'Account',
      'device.accountValue': 'Account {owner} (you: {uin})',
      'device.approve': 'Approve',
      'device.deny': 'Deny',
      'device.approved': 'Approved. You can go back to the terminal.',
      'device.denied': 'This login was denied.',
      'device.revoked': 'Device {id} was revoked.',
      'devices.title': 'Signed-in devices',
      'devices.none': 'No device has logged in to the developer tools yet.',
      'devices.col.device': 'Device',
      'devices.col.state': 'State',
      'devices.col.times': 'Times',
      'devices.col.actions': 'Actions',
      'devices.state.Active': 'Active',
      'devices.state.Revoked': 'Revoked',
      'devices.created': 'Signed in {time}',
      'devices.used': 'Last used {time}',
      'devices.revokedAt': 'Revoked {time}',
      'devices.revoke': 'Revoke',
      'derr.default': 'The operation failed',
      'derr.InvalidParameterValue.UserCode': 'Wrong or expired device code',
      'derr.RequestLimitExceeded.UserCode': 'Too many wrong codes; try again later',
      'derr.FailedOperation.DeviceAlreadyDecided': 'This login was already handled',
      'derr.ResourceNotFound.Device': 'No such device',
      'derr.FailedOperation.ConsoleLinkInvalid': 'Invalid sign-in link',
      'signin.heading': 'Open the console',
      'signin.failed.unknown': 'This sign-in link is not valid.',
      'signin.failed.used': 'This sign-in link was already used.',
      'signin.failed.expired': 'This sign-in link has expired.',
      'signin.again': 'Run bindery console again in your terminal for a new link (each link works once, and only for a short time).',
      'signin.confirm': 'This link signs you in as {uin} (account {owner}) and opens {page}. This browser is signed in as someone else; switching signs that login out.',
      'signin.switch': 'Switch and open the console',
      'signin.switchBusy': 'Opening…',
      'signin.stay': 'Keep the current login'
    }
  });

  // i18n.js translated the page before this script ran: again, with ours.
  i18n.apply();

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

  function showError(prefix, err) {
    var key = 'derr.' + err.code;
    setText($(prefix + '-title'), err.code && i18n.has(key) ? key : 'derr.default');
    if (err.code)
      setRaw($(prefix + '-message'), err.message);
    else
      setText($(prefix + '-message'), 'err.network');
    setRaw($(prefix + '-code'), err.code || '');
    $(prefix + '-code').hidden = !err.code;
    $(prefix).hidden = false;
  }

  function setBusy(button, labelEl, busy, idleKey, busyKey) {
    button.disabled = busy;
    button.classList.toggle('is-busy', busy);
    setText(labelEl, busy ? (busyKey || 'device.busy') : idleKey);
  }

  // "2026-11-25 07:00:00" (UTC, as the API answers) in the reader's time.
  function localTime(s) {
    if (!s)
      return '';
    var d = new Date(s.replace(' ', 'T') + 'Z');
    return isNaN(d.getTime()) ? s : d.toLocaleString(i18n.current(), { hour12: false });
  }

  /* ---- /device: approval and devices list ------------------------------ */

  function initDevice() {
    var shell = window.BinderyShell;
    var pending = null; // the user code being confirmed
    var lastDevices = [];
    var params = new URLSearchParams(window.location.search);

    // The frame's action(): retries once with a fresh CSRF token when
    // another tab rotated the session.
    var act = shell.action;

    function fail(err) {
      // The frame sends the browser to the login page and back here
      // (<body data-signin-return>).
      if (err.code === SESSION_INVALID) {
        shell.leave();
        return;
      }
      showError('page-error', err);
    }

    function notice(key, vars) {
      setText($('notice-text'), key, vars);
      $('notice').hidden = false;
    }

    function renderRequest(r) {
      pending = r.UserCode;
      setRaw($('req-code'), r.UserCode);
      setRaw($('req-client'), r.ClientId);
      setRaw($('req-ip'), r.SourceIp || '—');
      setRaw($('req-time'), localTime(r.RequestedAt));
      setText($('req-scope'), 'device.scopeValue', { scope: r.Scope || '—' });
      setText($('req-account'), 'device.accountValue', { owner: r.Account.OwnerUin, uin: r.Account.Uin });
      $('request-card').hidden = false;
      $('code-card').hidden = true;
      $('approve').focus();
    }

    async function describe(code) {
      var button = $('code-submit');
      $('page-error').hidden = true;
      setBusy(button, $('code-submit-label'), true, 'device.next');
      try {
        renderRequest(await act('DescribeDeviceAuthorization', { UserCode: code }));
      } catch (err) {
        fail(err);
      }
      setBusy(button, $('code-submit-label'), false, 'device.next');
    }

    async function decide(approve) {
      var button = approve ? $('approve') : $('deny');
      var label = approve ? $('approve-label') : $('deny-label');
      var idle = approve ? 'device.approve' : 'device.deny';
      $('page-error').hidden = true;
      setBusy(button, label, true, idle);
      try {
        await act(approve ? 'ApproveDeviceAuthorization' : 'DenyDeviceAuthorization', { UserCode: pending });
        $('request-card').hidden = true;
        $('code-card').hidden = false;
        $('user-code').value = '';
        notice(approve ? 'device.approved' : 'device.denied');
        window.history.replaceState(null, '', '/device');
        await loadDevices();
      } catch (err) {
        fail(err);
      }
      setBusy(button, label, false, idle);
    }

    function deviceRow(d) {
      var tr = el('tr', 'link-row');
      tr.setAttribute('data-device', d.DeviceId);
      var who = el('td', 'app-cell');
      who.appendChild(el('span', 'app-cell__name', d.ClientId));
      var meta = el('span', 'app-cell__meta');
      meta.appendChild(el('span', 'app-cell__appid', d.DeviceId));
      meta.appendChild(el('span', 'tag', d.SourceIp || '—'));
      who.appendChild(meta);
      tr.appendChild(who);
      var state = el('td');
      var badge = el('span', 'badge badge--' + (d.State === 'Active' ? 'active' : 'revoked'));
      setText(badge, 'devices.state.' + d.State);
      state.appendChild(badge);
      if (d.RevokedReason)
        state.appendChild(el('span', 'state-reason', d.RevokedReason));
      tr.appendChild(state);
      var times = el('td');
      times.appendChild(el('div', 'time-line', t('devices.created', { time: localTime(d.CreatedAt) })));
      times.appendChild(el('div', 'time-line', t('devices.used', { time: localTime(d.LastUsedAt) })));
      if (d.RevokedAt)
        times.appendChild(el('div', 'time-line', t('devices.revokedAt', { time: localTime(d.RevokedAt) })));
      tr.appendChild(times);
      var actions = el('td', 'actions');
      if (d.State === 'Active') {
        var b = el('button', 'btn btn--danger btn--sm');
        b.type = 'button';
        setText(b, 'devices.revoke');
        b.addEventListener('click', async function () {
          b.disabled = true;
          try {
            await act('RevokeDevice', { DeviceId: d.DeviceId });
            notice('device.revoked', { id: d.DeviceId });
            await loadDevices();
          } catch (err) {
            b.disabled = false;
            fail(err);
          }
        });
        actions.appendChild(b);
      }
      tr.appendChild(actions);
      return tr;
    }

    function renderDevices() {
      var body = $('devices-body');
      body.textContent = '';
      lastDevices.forEach(function (d) {
        body.appendChild(deviceRow(d));
      });
      $('devices-empty').hidden = lastDevices.length > 0;
      $('devices-card').hidden = false;
    }

    async function loadDevices() {
      try {
        lastDevices = (await act('DescribeDevices', {})).Devices;
        renderDevices();
      } catch (err) {
        fail(err);
      }
    }

    async function start() {
      // Resolves once the frame has the session; without one the frame
      // has already sent the browser to the login page.
      await shell.ready;
      $('loading').hidden = true;
      $('code-card').hidden = false;
      var code = params.get('user_code');
      if (code) {
        $('user-code').value = code;
        await describe(code);
      }
      await loadDevices();
    }

    $('code-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      describe($('user-code').value.trim());
    });
    $('approve').addEventListener('click', function () { decide(true); });
    $('deny').addEventListener('click', function () { decide(false); });
    document.addEventListener('bindery:langchange', function () {
      if (!$('devices-card').hidden)
        renderDevices();
    });
    start();
  }

  /* ---- /console/signin/{confirm,failed} -------------------------------- */

  function showFailed(reason) {
    var key = 'signin.failed.' + (['used', 'expired'].indexOf(reason) >= 0 ? reason : 'unknown');
    setText($('failed-text'), key);
    $('confirm').hidden = true;
    $('failed').hidden = false;
  }

  async function initSignin() {
    if (window.location.pathname === '/console/signin/failed') {
      showFailed(new URLSearchParams(window.location.search).get('reason'));
      return;
    }
    var code = new URLSearchParams(window.location.hash.slice(1)).get('c') || '';
    // The code leaves the address bar and the history at once.
    window.history.replaceState(null, '', '/console/signin/confirm');
    var link;
    try {
      link = await api.call('POST', '/console/signin/peek', { Code: code });
    } catch (err) {
      showFailed('unknown');
      return;
    }
    setText($('confirm-text'), 'signin.confirm', { uin: link.Uin, owner: link.OwnerUin, page: link.Page });
    $('confirm').hidden = false;
    $('switch').addEventListener('click', async function () {
      setBusy($('switch'), $('switch-label'), true, 'signin.switch', 'signin.switchBusy');
      try {
        var r = await api.call('POST', '/console/signin', { Code: code });
        window.location.replace(r.Next);
      } catch (err) {
        setBusy($('switch'), $('switch-label'), false, 'signin.switch');
        showError('flow-error', err);
      }
    });
  }

  var page = document.body.getAttribute('data-page');
  if (page === 'device')
    initDevice();
  else if (page === 'signin')
    initSignin();
})();
