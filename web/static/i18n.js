// The console's two languages. Every visible text of the pages carries a
// data-i18n="key" attribute (its text content) and/or a
// data-i18n-attr="attribute:key,attribute:key" attribute (translated
// attributes such as aria-label); apply() fills them from the dictionary of
// the current language. zh-CN is the default; the choice is kept in
// localStorage so that it holds across pages and reloads.
(function () {
  'use strict';

  var STORAGE_KEY = 'bindery.lang';
  var DEFAULT_LANG = 'zh-CN';
  var LANGS = ['zh-CN', 'en'];
  // The choice made on this page, for when localStorage is unavailable.
  var chosen = null;

  var DICT = {
    'zh-CN': {
      'lang.label': '语言',
      'brand.console': '控制台',
      'a11y.skip': '跳到主要内容',

      'title.login': '登录 · Bindery',
      'title.signup': '注册 · Bindery',
      'title.account': '账号信息 · Bindery 控制台',

      'form.email': '邮箱',
      'form.password': '密码',
      'form.retryIn': '{s} 秒后可重试',

      'login.heading': '登录',
      'login.lead': '使用邮箱和密码登录 Bindery 控制台。',
      'login.submit': '登录',
      'login.busy': '正在登录…',
      'login.noAccount': '还没有账号？',
      'login.toSignup': '注册',

      'signup.heading': '注册',
      'signup.lead': '创建 Bindery 账号，注册完成即获得账号 ID。',
      'signup.passwordHint': '至少 10 个字符，且不能与邮箱相同。',
      'signup.submit': '注册',
      'signup.busy': '正在注册…',
      'signup.haveAccount': '已有账号？',
      'signup.toLogin': '登录',

      'err.login': '登录失败',
      'err.signup': '注册失败',
      'err.logout': '退出登录失败',
      'err.session': '无法读取账号信息',
      'err.network': '无法连接到服务器，请检查网络后重试。',
      'err.FailedOperation.LoginFailed': '邮箱或密码错误',
      'err.RequestLimitExceeded.LoginThrottled': '登录失败次数过多，请稍后再试',
      'err.InvalidParameter.PasswordViolatedRules': '密码不符合规则',
      'err.ResourceInUse.Email': '该邮箱已注册',
      'err.MissingParameter': '请填写邮箱和密码',
      'err.InvalidParameterValue': '邮箱地址无效',

      'nav.label': '控制台导航',
      'nav.account': '账号信息',

      'account.title': '账号信息',
      'account.basic': '基本信息',
      'account.loading': '正在加载…',
      'account.uin': '账号 ID',
      'account.uinHint': '账号 ID 是账号的唯一数字标识。其他账号添加你为协作者时，需要填写它。',
      'account.copy': '复制',
      'account.copyLabel': '复制账号 ID',
      'account.copied': '已复制',
      'account.copyFailed': '复制失败，请手动选中后复制',
      'account.email': '邮箱',
      'account.appid': 'APPID',
      'account.via': '注册方式',
      'account.kind': '账号类型',
      'account.owner': '主账号 ID',
      'account.logout': '退出登录',
      'account.loggingOut': '正在退出…',
      'account.user': '当前登录账号',

      'via.email': '邮箱',
      'via.wechat': '微信',
      'kind.root': '主账号',
      'kind.sub_user': '子用户',
      'kind.collaborator': '协作者',

      'title.center': '账号中心 · Bindery 控制台',
      'title.authorize': '微信授权 · Bindery',
      'title.authorized': '完成授权 · Bindery',
      'nav.center': '账号中心',

      'login.or': '或',
      'login.wechat': '微信公众号',
      'login.wechatBusy': '正在跳转…',
      'login.wechatHint': '公众号或小程序的管理员用微信扫码，选择已关联的应用即可登录；选择未关联的应用会注册新账号。',

      'center.title': '账号中心',
      'center.loginMethods': '登录方式',
      'center.wechatRow': '微信公众平台登录',
      'center.wechatHint': '关联公众号或小程序后，可以在登录页点【微信公众号】扫码登录本账号。',
      'center.link': '关联',
      'center.linking': '正在跳转…',
      'center.links': '已关联的应用',
      'center.noLinks': '还没有关联任何公众号或小程序。',
      'center.col.app': '应用',
      'center.col.state': '状态',
      'center.col.times': '时间',
      'center.col.actions': '操作',
      'center.type.MiniProgram': '小程序',
      'center.type.OfficialAccount': '公众号',
      'center.linkedAt': '关联时间',
      'center.verifiedAt': '最近验证',
      'center.revokedAt': '停止授权',
      'center.unlinkedAt': '解绑时间',
      'center.never': '尚未验证',
      'center.unlink': '解绑',
      'center.reauthorize': '重新授权',
      'center.verify': '检查',
      'center.confirmTitle': '解绑 {name}？',
      'center.confirmText': '解绑后，无法再用该应用扫码登录本账号。微信侧的授权不受影响，可在公众平台「设置 → 第三方授权管理」中停止授权。',
      'center.confirm': '确认解绑',
      'center.cancel': '取消',
      'center.history': '操作记录',
      'center.noHistory': '暂无记录。',
      'history.col.time': '时间',
      'history.col.app': '应用',
      'history.col.event': '事件',
      'history.col.detail': '说明',

      'state.active': '已关联',
      'state.revoked': '已停止授权',
      'state.unlinked': '已解绑',
      'reason.push': '微信通知：管理员已在公众平台停止授权',
      'reason.detected': '使用时发现：微信侧已停止授权',

      'event.linked': '关联',
      'event.reauthorized': '重新授权',
      'event.refreshed': '更新授权',
      'event.registered': '通过微信注册',
      'event.login': '扫码登录',
      'event.unlinked': '解绑',
      'event.revoked': '停止授权',

      'notice.Linked': '已关联 {name}。',
      'notice.Reauthorized': '已重新授权 {name}，关联已恢复。',
      'notice.Refreshed': '{name} 已关联，授权已更新。',
      'notice.Unlinked': '已解绑 {name}。',
      'notice.Verified': '{name} 的授权有效。',

      'authorize.heading': '正在前往微信授权…',
      'authorize.lead': '请在微信授权页用公众号或小程序管理员的微信扫码，选择应用并确认授权。如果页面没有自动跳转，请点击下面的按钮。',
      'authorize.go': '前往微信授权',
      'authorized.heading': '正在完成授权…',
      'authorized.working': '正在向微信确认授权结果…',
      'authorized.failed': '授权没有完成',
      'authorized.toCenter': '返回账号中心',
      'authorized.toLogin': '返回登录页',

      'lerr.default': '操作失败',
      'lerr.authorize': '无法打开微信授权页',
      'lerr.ResourceInUse.WechatApp': '该应用已关联其他账号',
      'lerr.OperationDenied.MiniProgramRegisteredAccount': '通过小程序注册的账号不能关联其他小程序',
      'lerr.LimitExceeded.WechatLink': '关联的应用数量已达上限',
      'lerr.FailedOperation.WechatAuthorizationRevoked': '微信侧已停止授权',
      'lerr.FailedOperation.AuthorizationStateInvalid': '授权无效或来自其他浏览器',
      'lerr.FailedOperation.AuthorizationStateExpired': '授权已过期，请重新开始',
      'lerr.FailedOperation.AuthorizationStateUsed': '该授权已完成',
      'lerr.FailedOperation.AuthorizationCodeUsed': '授权码已被使用',
      'lerr.InternalError.Upstream': '微信服务暂时没有响应',
      'lerr.InvalidParameterValue': '微信拒绝了这次授权',
      'lerr.ResourceNotFound.WechatLink': '没有找到该关联',
      'lerr.FailedOperation': '微信服务未配置或拒绝了请求'
    },
    en: {
      'lang.label': 'Language',
      'brand.console': 'Console',
      'a11y.skip': 'Skip to main content',

      'title.login': 'Sign in · Bindery',
      'title.signup': 'Sign up · Bindery',
      'title.account': 'Account information · Bindery Console',

      'form.email': 'Email',
      'form.password': 'Password',
      'form.retryIn': 'Retry in {s}s',

      'login.heading': 'Sign in',
      'login.lead': 'Sign in to the Bindery console with your email and password.',
      'login.submit': 'Sign in',
      'login.busy': 'Signing in…',
      'login.noAccount': 'No account yet?',
      'login.toSignup': 'Sign up',

      'signup.heading': 'Sign up',
      'signup.lead': 'Create a Bindery account; you get your account ID right away.',
      'signup.passwordHint': 'At least 10 characters, and not the same as your email.',
      'signup.submit': 'Sign up',
      'signup.busy': 'Signing up…',
      'signup.haveAccount': 'Already have an account?',
      'signup.toLogin': 'Sign in',

      'err.login': 'Sign-in failed',
      'err.signup': 'Sign-up failed',
      'err.logout': 'Sign-out failed',
      'err.session': 'Could not load the account information',
      'err.network': 'Cannot reach the server; check your connection and try again.',
      'err.FailedOperation.LoginFailed': 'Wrong email or password',
      'err.RequestLimitExceeded.LoginThrottled': 'Too many failed sign-ins; try again later',
      'err.InvalidParameter.PasswordViolatedRules': 'The password does not meet the rules',
      'err.ResourceInUse.Email': 'This email is already registered',
      'err.MissingParameter': 'Enter your email and password',
      'err.InvalidParameterValue': 'Invalid email address',

      'nav.label': 'Console navigation',
      'nav.account': 'Account information',

      'account.title': 'Account information',
      'account.basic': 'Basic information',
      'account.loading': 'Loading…',
      'account.uin': 'Account ID',
      'account.uinHint': 'The account ID is the unique number of your account. Others need it to add you as a collaborator.',
      'account.copy': 'Copy',
      'account.copyLabel': 'Copy account ID',
      'account.copied': 'Copied',
      'account.copyFailed': 'Copy failed; select the ID and copy it yourself',
      'account.email': 'Email',
      'account.appid': 'APPID',
      'account.via': 'Registered via',
      'account.kind': 'Account type',
      'account.owner': 'Owner account ID',
      'account.logout': 'Sign out',
      'account.loggingOut': 'Signing out…',
      'account.user': 'Signed in as',

      'via.email': 'Email',
      'via.wechat': 'WeChat',
      'kind.root': 'Root account',
      'kind.sub_user': 'Sub-user',
      'kind.collaborator': 'Collaborator',

      'title.center': 'Account center · Bindery Console',
      'title.authorize': 'WeChat authorization · Bindery',
      'title.authorized': 'Completing authorization · Bindery',
      'nav.center': 'Account center',

      'login.or': 'or',
      'login.wechat': 'WeChat Official Account',
      'login.wechatBusy': 'Redirecting…',
      'login.wechatHint': 'An administrator of an Official Account or Mini Program scans with WeChat and picks a linked app to sign in; picking an app that is not linked registers a new account.',

      'center.title': 'Account center',
      'center.loginMethods': 'Sign-in methods',
      'center.wechatRow': 'WeChat Official Platform sign-in',
      'center.wechatHint': 'Link an Official Account or Mini Program to sign in to this account by scanning with WeChat on the login page.',
      'center.link': 'Link',
      'center.linking': 'Redirecting…',
      'center.links': 'Linked apps',
      'center.noLinks': 'No Official Account or Mini Program is linked yet.',
      'center.col.app': 'App',
      'center.col.state': 'State',
      'center.col.times': 'Times',
      'center.col.actions': 'Actions',
      'center.type.MiniProgram': 'Mini Program',
      'center.type.OfficialAccount': 'Official Account',
      'center.linkedAt': 'Linked',
      'center.verifiedAt': 'Last verified',
      'center.revokedAt': 'Authorization stopped',
      'center.unlinkedAt': 'Unlinked',
      'center.never': 'not yet',
      'center.unlink': 'Unlink',
      'center.reauthorize': 'Re-authorize',
      'center.verify': 'Check',
      'center.confirmTitle': 'Unlink {name}?',
      'center.confirmText': 'After unlinking, scanning with this app no longer signs in to this account. The authorization on WeChat stays; stop it in the Official Platform under Settings → Third-party authorization management.',
      'center.confirm': 'Unlink',
      'center.cancel': 'Cancel',
      'center.history': 'History',
      'center.noHistory': 'Nothing yet.',
      'history.col.time': 'Time',
      'history.col.app': 'App',
      'history.col.event': 'Event',
      'history.col.detail': 'Detail',

      'state.active': 'Linked',
      'state.revoked': 'Authorization stopped',
      'state.unlinked': 'Unlinked',
      'reason.push': 'WeChat reported that an administrator stopped the authorization',
      'reason.detected': 'Found when used: the authorization was stopped on WeChat',

      'event.linked': 'Linked',
      'event.reauthorized': 'Re-authorized',
      'event.refreshed': 'Authorization updated',
      'event.registered': 'Registered through WeChat',
      'event.login': 'Signed in by scanning',
      'event.unlinked': 'Unlinked',
      'event.revoked': 'Authorization stopped',

      'notice.Linked': 'Linked {name}.',
      'notice.Reauthorized': 'Re-authorized {name}; the link is restored.',
      'notice.Refreshed': '{name} is linked; its authorization was updated.',
      'notice.Unlinked': 'Unlinked {name}.',
      'notice.Verified': 'The authorization of {name} is valid.',

      'authorize.heading': 'Opening WeChat authorization…',
      'authorize.lead': 'On the WeChat page, an administrator of the Official Account or Mini Program scans with WeChat, picks the app and confirms. If nothing happens, use the button below.',
      'authorize.go': 'Continue to WeChat',
      'authorized.heading': 'Completing the authorization…',
      'authorized.working': 'Confirming the authorization with WeChat…',
      'authorized.failed': 'The authorization was not completed',
      'authorized.toCenter': 'Back to the account center',
      'authorized.toLogin': 'Back to sign-in',

      'lerr.default': 'The operation failed',
      'lerr.authorize': 'Cannot open the WeChat authorization page',
      'lerr.ResourceInUse.WechatApp': 'This app is linked to another account',
      'lerr.OperationDenied.MiniProgramRegisteredAccount': 'An account registered through a Mini Program cannot link another Mini Program',
      'lerr.LimitExceeded.WechatLink': 'This account has linked as many apps as it may',
      'lerr.FailedOperation.WechatAuthorizationRevoked': 'The authorization was stopped on WeChat',
      'lerr.FailedOperation.AuthorizationStateInvalid': 'This authorization is not valid here',
      'lerr.FailedOperation.AuthorizationStateExpired': 'The authorization expired; start again',
      'lerr.FailedOperation.AuthorizationStateUsed': 'This authorization is already complete',
      'lerr.FailedOperation.AuthorizationCodeUsed': 'The authorization code was already used',
      'lerr.InternalError.Upstream': 'WeChat is not answering right now',
      'lerr.InvalidParameterValue': 'WeChat refused this authorization',
      'lerr.ResourceNotFound.WechatLink': 'No such link',
      'lerr.FailedOperation': 'WeChat is not configured or refused the request'
    }
  };

  function current() {
    if (chosen)
      return chosen;
    var stored = null;
    try {
      stored = window.localStorage.getItem(STORAGE_KEY);
    } catch (e) {
      // Storage can be disabled; the default language still works.
    }
    return LANGS.indexOf(stored) >= 0 ? stored : DEFAULT_LANG;
  }

  // The text for key in the current language, with {name} placeholders
  // filled from vars. A key missing from a language falls back to the
  // default language, then to the key itself, so a gap shows up plainly.
  function t(key, vars) {
    var lang = current();
    var text = Object.prototype.hasOwnProperty.call(DICT[lang], key) ? DICT[lang][key]
      : Object.prototype.hasOwnProperty.call(DICT[DEFAULT_LANG], key) ? DICT[DEFAULT_LANG][key]
        : key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return text;
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(DICT[DEFAULT_LANG], key);
  }

  function applyAttrs(el) {
    var pairs = el.getAttribute('data-i18n-attr').split(',');
    for (var i = 0; i < pairs.length; i++) {
      var pair = pairs[i].split(':');
      if (pair.length === 2)
        el.setAttribute(pair[0].trim(), t(pair[1].trim()));
    }
  }

  // Translates every marked element under root (the whole document by
  // default), sets <html lang> and the language buttons' pressed state.
  function apply(root) {
    var scope = root || document;
    var lang = current();
    document.documentElement.lang = lang;
    var texts = scope.querySelectorAll('[data-i18n]');
    for (var i = 0; i < texts.length; i++)
      texts[i].textContent = t(texts[i].getAttribute('data-i18n'));
    var attrs = scope.querySelectorAll('[data-i18n-attr]');
    for (var j = 0; j < attrs.length; j++)
      applyAttrs(attrs[j]);
    var buttons = document.querySelectorAll('[data-lang]');
    for (var k = 0; k < buttons.length; k++)
      buttons[k].setAttribute('aria-pressed', String(buttons[k].getAttribute('data-lang') === lang));
  }

  // Switches the language, remembers it, retranslates the page and tells
  // the page's own script (event "bindery:langchange") so that it can
  // redraw texts it builds itself.
  function set(lang) {
    if (LANGS.indexOf(lang) < 0)
      return;
    chosen = lang;
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch (e) {
      // Without storage the switch lasts until the page is left.
    }
    apply();
    document.dispatchEvent(new CustomEvent('bindery:langchange', { detail: { lang: lang } }));
  }

  // One listener for every language button, present or rendered later (the
  // console frame's buttons are injected by shell.js).
  function bindSwitch() {
    document.addEventListener('click', function (ev) {
      var button = ev.target.closest ? ev.target.closest('[data-lang]') : null;
      if (button)
        set(button.getAttribute('data-lang'));
    });
  }

  // Adds texts for other scripts (shell.js, the 访问管理 pages): dicts maps
  // a language to {key: text}. The page is translated again, since deferred
  // scripts run after this one has already applied the dictionary.
  function extend(dicts) {
    Object.keys(dicts).forEach(function (lang) {
      if (!DICT[lang])
        return;
      Object.keys(dicts[lang]).forEach(function (key) {
        DICT[lang][key] = dicts[lang][key];
      });
    });
    if (document.body)
      apply();
  }

  window.BinderyI18n = {
    t: t, has: has, apply: apply, set: set, current: current, langs: LANGS, extend: extend
  };

  // Set <html lang> as early as possible; texts once the body is parsed.
  document.documentElement.lang = current();
  function start() {
    apply();
    bindSwitch();
  }
  // A switch made in another tab of the console follows here too.
  window.addEventListener('storage', function (ev) {
    if (ev.key === STORAGE_KEY && LANGS.indexOf(ev.newValue) >= 0)
      set(ev.newValue);
  });
  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', start);
  else
    start();
})();
