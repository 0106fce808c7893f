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
      'kind.collaborator': '协作者'
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
      'kind.collaborator': 'Collaborator'
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

  function bindSwitch() {
    var buttons = document.querySelectorAll('[data-lang]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener('click', function (ev) {
        set(ev.currentTarget.getAttribute('data-lang'));
      });
    }
  }

  window.BinderyI18n = { t: t, has: has, apply: apply, set: set, current: current, langs: LANGS };

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
