// 访问管理 (access management): the pages /cam/users, /cam/groups,
// /cam/policies and /cam/keys. Everything goes through POST /console/api
// with the official CAM action names (BinderyShell.action), so the console
// can do exactly what the signed-in principal's policies allow: a denied
// action shows the server's denial ("you are not authorized to perform
// operation (cam:…)") instead of a broken page. Loads after i18n.js,
// console.js and shell.js.
(function () {
  'use strict';

  var i18n = window.BinderyI18n;
  var t = i18n.t;
  var shell = window.BinderyShell;

  var ADMIN_POLICY = 'AdministratorAccess';
  var POLICY_TEMPLATE = '{\n  "version": "2.0",\n  "statement": [\n    {\n      "effect": "allow",\n' +
    '      "action": ["cam:List*", "cam:Get*"],\n      "resource": ["*"]\n    }\n  ]\n}\n';

  i18n.extend({
    'zh-CN': {
      'title.camUsers': '用户 · 访问管理 · Bindery 控制台',
      'title.camGroups': '用户组 · 访问管理 · Bindery 控制台',
      'title.camPolicies': '策略 · 访问管理 · Bindery 控制台',
      'title.camKeys': 'API 密钥 · 访问管理 · Bindery 控制台',
      'cam.loading': '正在加载…',
      'cam.err.default': '操作失败',
      'cam.err.load': '无法加载',
      'cam.none': '—',
      'cam.yes': '是',
      'cam.no': '否',
      'cam.cancel': '取消',
      'cam.confirm': '确定',
      'cam.delete': '删除',
      'cam.detail': '详情',
      'cam.back': '返回列表',
      'cam.copy': '复制',
      'cam.copied': '已复制',
      'cam.copyFailed': '复制失败，请手动复制',
      'cam.onceWarning': '请立即保存：关闭后将无法再次查看。',
      'cam.col.name': '名称',
      'cam.col.kind': '类型',
      'cam.col.uin': '账号 ID',
      'cam.col.console': '控制台登录',
      'cam.col.created': '创建时间',
      'cam.col.actions': '操作',
      'cam.col.remark': '备注',
      'cam.col.desc': '描述',
      'cam.col.policy': '策略',
      'cam.col.type': '策略类型',
      'cam.col.attachments': '关联数',

      'cam.users.title': '用户',
      'cam.users.list': '用户列表',
      'cam.users.empty': '还没有子用户或协作者。',
      'cam.users.create': '新建用户',
      'cam.users.deleteAsk': '删除用户 {name}？它的 API 密钥、用户组成员关系和策略关联会一并删除。',
      'cam.users.deleted': '已删除用户 {name}。',
      'cam.users.created': '已创建用户 {name}。',
      'cam.wizard.title': '新建用户',
      'cam.wizard.kind': '用户类型',
      'cam.wizard.kindSubHint': '在本账号内创建的用户，用主账号 ID、用户名和密码登录。',
      'cam.wizard.kindCollabHint': '另一个主账号，登录自己的账号后通过【切换开发商】进入本账号。',
      'cam.wizard.info': '用户信息',
      'cam.wizard.name': '用户名',
      'cam.wizard.nameHint': '1–64 个字符：字母、数字和 +=,.@_-',
      'cam.wizard.access': '访问方式',
      'cam.wizard.console': '控制台访问（用密码登录控制台）',
      'cam.wizard.api': '编程访问（创建 API 密钥）',
      'cam.wizard.password': '控制台密码',
      'cam.wizard.pwAuto': '自动生成密码',
      'cam.wizard.pwCustom': '自定义密码',
      'cam.wizard.pwHint': '8–128 个字符，须含大写字母、小写字母、数字和其他字符。',
      'cam.wizard.loginUin': '登录账号',
      'cam.wizard.loginUinHint': '填写协作者的账号 ID（对方在“账号信息”中可以看到并复制）。',
      'cam.wizard.collabName': '备注名（可选）',
      'cam.wizard.perm': '设置用户权限',
      'cam.wizard.permAdmin': '所有策略（AdministratorAccess，可以管理账号内所有资源）',
      'cam.wizard.permPick': '从策略列表中选择策略',
      'cam.wizard.permGroups': '添加至用户组',
      'cam.wizard.permNone': '暂不授权',
      'cam.wizard.filter': '搜索策略',
      'cam.wizard.noGroups': '还没有用户组。',
      'cam.wizard.submit': '完成',
      'cam.wizard.busy': '正在创建…',
      'cam.wizard.resultSub': '子用户 {name} 已创建。',
      'cam.wizard.resultCollab': '协作者 {name}（账号 {uin}）已添加。',
      'cam.wizard.partial': '用户已创建，但授权没有全部完成',
      'cam.wizard.generated': '登录密码',
      'cam.wizard.loginLink': '子用户登录地址',
      'cam.wizard.done': '返回用户列表',
      'cam.detail.info': '基本信息',
      'cam.detail.policies': '已关联策略',
      'cam.detail.noPolicies': '没有直接关联的策略。',
      'cam.detail.attach': '关联策略',
      'cam.detail.detach': '解除',
      'cam.detail.groups': '所属用户组',
      'cam.detail.noGroups': '不在任何用户组中。',
      'cam.detail.join': '加入用户组',
      'cam.detail.leave': '移出',
      'cam.detail.keys': '管理该用户的 API 密钥',
      'cam.detail.deleteUser': '删除用户',
      'cam.detail.pick': '请选择…',
      'cam.attached': '已关联策略 {name}。',
      'cam.detached': '已解除策略 {name}。',
      'cam.joined': '已加入用户组 {name}。',
      'cam.left': '已移出用户组 {name}。',

      'cam.groups.title': '用户组',
      'cam.groups.list': '用户组列表',
      'cam.groups.empty': '还没有用户组。',
      'cam.groups.create': '新建用户组',
      'cam.groups.name': '用户组名',
      'cam.groups.remark': '备注',
      'cam.groups.created': '已创建用户组 {name}。',
      'cam.groups.deleted': '已删除用户组 {name}。',
      'cam.groups.deleteAsk': '删除用户组 {name}？成员关系和策略关联会一并删除。',
      'cam.groups.members': '组成员',
      'cam.groups.noMembers': '还没有成员。',
      'cam.groups.addMember': '添加成员',
      'cam.groups.added': '已将 {name} 加入用户组。',
      'cam.groups.removed': '已将 {name} 移出用户组。',

      'cam.policies.title': '策略',
      'cam.policies.list': '策略列表',
      'cam.policies.empty': '没有符合条件的策略。',
      'cam.policies.search': '搜索策略名',
      'cam.policies.scope': '策略类型',
      'cam.policies.all': '全部策略',
      'cam.policies.preset': '预设策略',
      'cam.policies.custom': '自定义策略',
      'cam.policies.create': '新建自定义策略',
      'cam.policies.edit': '编辑策略',
      'cam.policies.view': '查看策略',
      'cam.policies.name': '策略名',
      'cam.policies.desc': '描述',
      'cam.policies.doc': '策略语法（JSON）',
      'cam.policies.docHint': '策略语法 2.0：version、statement（effect、action、resource、condition）。',
      'cam.policies.save': '保存',
      'cam.policies.saving': '正在保存…',
      'cam.policies.saved': '已保存策略 {name}。',
      'cam.policies.deleted': '已删除策略 {name}。',
      'cam.policies.deleteAsk': '删除策略 {name}？它与用户和用户组的关联会一并解除。',
      'cam.policies.at': '第 {line} 行，第 {column} 列',
      'cam.policies.readOnly': '预设策略由系统维护，不能修改。',

      'cam.keys.title': 'API 密钥',
      'cam.keys.target': '密钥所属身份',
      'cam.keys.self': '我自己（{uin}）',
      'cam.keys.user': '{name}（{kind}，{uin}）',
      'cam.keys.list': 'API 密钥',
      'cam.keys.empty': '还没有 API 密钥。',
      'cam.keys.create': '新建密钥',
      'cam.keys.limit': '每个身份最多 2 个密钥。删除密钥前需要先禁用它。',
      'cam.keys.id': 'SecretId',
      'cam.keys.secret': 'SecretKey',
      'cam.keys.status': '状态',
      'cam.keys.Active': '已启用',
      'cam.keys.Inactive': '已禁用',
      'cam.keys.enable': '启用',
      'cam.keys.disable': '禁用',
      'cam.keys.created': '已创建密钥 {id}。SecretKey 只在此时显示一次。',
      'cam.keys.changed': '密钥 {id} 已{state}。',
      'cam.keys.deleted': '已删除密钥 {id}。',
      'cam.keys.deleteAsk': '删除密钥 {id}？使用它的程序将无法再调用 API，且不能恢复。',
      'cam.keys.newTitle': '新密钥'
    },
    en: {
      'title.camUsers': 'Users · Access management · Bindery Console',
      'title.camGroups': 'User groups · Access management · Bindery Console',
      'title.camPolicies': 'Policies · Access management · Bindery Console',
      'title.camKeys': 'API keys · Access management · Bindery Console',
      'cam.loading': 'Loading…',
      'cam.err.default': 'The operation failed',
      'cam.err.load': 'Could not load',
      'cam.none': '—',
      'cam.yes': 'Yes',
      'cam.no': 'No',
      'cam.cancel': 'Cancel',
      'cam.confirm': 'OK',
      'cam.delete': 'Delete',
      'cam.detail': 'Details',
      'cam.back': 'Back to the list',
      'cam.copy': 'Copy',
      'cam.copied': 'Copied',
      'cam.copyFailed': 'Copy failed; copy it by hand',
      'cam.onceWarning': 'Save it now: it cannot be shown again.',
      'cam.col.name': 'Name',
      'cam.col.kind': 'Type',
      'cam.col.uin': 'Account ID',
      'cam.col.console': 'Console sign-in',
      'cam.col.created': 'Created',
      'cam.col.actions': 'Actions',
      'cam.col.remark': 'Remark',
      'cam.col.desc': 'Description',
      'cam.col.policy': 'Policy',
      'cam.col.type': 'Policy type',
      'cam.col.attachments': 'Attached to',

      'cam.users.title': 'Users',
      'cam.users.list': 'Users',
      'cam.users.empty': 'No sub-users or collaborators yet.',
      'cam.users.create': 'Create user',
      'cam.users.deleteAsk': 'Delete the user {name}? Its API keys, group memberships and policy attachments go with it.',
      'cam.users.deleted': 'Deleted the user {name}.',
      'cam.users.created': 'Created the user {name}.',
      'cam.wizard.title': 'Create user',
      'cam.wizard.kind': 'User type',
      'cam.wizard.kindSubHint': 'A user created in this account; signs in with the owner account ID, its name and a password.',
      'cam.wizard.kindCollabHint': 'Another root account; it signs in to its own account, then uses Switch developer to work here.',
      'cam.wizard.info': 'User information',
      'cam.wizard.name': 'User name',
      'cam.wizard.nameHint': '1–64 characters: letters, digits and +=,.@_-',
      'cam.wizard.access': 'Access',
      'cam.wizard.console': 'Console access (sign in with a password)',
      'cam.wizard.api': 'Programmatic access (an API key)',
      'cam.wizard.password': 'Console password',
      'cam.wizard.pwAuto': 'Generate a password',
      'cam.wizard.pwCustom': 'Set a password',
      'cam.wizard.pwHint': '8–128 characters with an upper-case letter, a lower-case letter, a digit and another character.',
      'cam.wizard.loginUin': 'Login account',
      'cam.wizard.loginUinHint': 'The collaborator\'s account ID (shown, with a copy button, on its Account information page).',
      'cam.wizard.collabName': 'Name (optional)',
      'cam.wizard.perm': 'Permissions',
      'cam.wizard.permAdmin': 'All policies (AdministratorAccess: manages every resource of the account)',
      'cam.wizard.permPick': 'Pick policies from the list',
      'cam.wizard.permGroups': 'Add to user groups',
      'cam.wizard.permNone': 'No permissions for now',
      'cam.wizard.filter': 'Search policies',
      'cam.wizard.noGroups': 'No user groups yet.',
      'cam.wizard.submit': 'Done',
      'cam.wizard.busy': 'Creating…',
      'cam.wizard.resultSub': 'The sub-user {name} was created.',
      'cam.wizard.resultCollab': 'The collaborator {name} (account {uin}) was added.',
      'cam.wizard.partial': 'The user was created, but not every permission was granted',
      'cam.wizard.generated': 'Password',
      'cam.wizard.loginLink': 'Sub-user sign-in address',
      'cam.wizard.done': 'Back to the users',
      'cam.detail.info': 'Basic information',
      'cam.detail.policies': 'Attached policies',
      'cam.detail.noPolicies': 'No policies attached directly.',
      'cam.detail.attach': 'Attach policy',
      'cam.detail.detach': 'Detach',
      'cam.detail.groups': 'Groups',
      'cam.detail.noGroups': 'Not in any group.',
      'cam.detail.join': 'Add to group',
      'cam.detail.leave': 'Remove',
      'cam.detail.keys': 'Manage this user\'s API keys',
      'cam.detail.deleteUser': 'Delete user',
      'cam.detail.pick': 'Choose…',
      'cam.attached': 'Attached the policy {name}.',
      'cam.detached': 'Detached the policy {name}.',
      'cam.joined': 'Added to the group {name}.',
      'cam.left': 'Removed from the group {name}.',

      'cam.groups.title': 'User groups',
      'cam.groups.list': 'User groups',
      'cam.groups.empty': 'No user groups yet.',
      'cam.groups.create': 'Create group',
      'cam.groups.name': 'Group name',
      'cam.groups.remark': 'Remark',
      'cam.groups.created': 'Created the group {name}.',
      'cam.groups.deleted': 'Deleted the group {name}.',
      'cam.groups.deleteAsk': 'Delete the group {name}? Its memberships and policy attachments go with it.',
      'cam.groups.members': 'Members',
      'cam.groups.noMembers': 'No members yet.',
      'cam.groups.addMember': 'Add member',
      'cam.groups.added': 'Added {name} to the group.',
      'cam.groups.removed': 'Removed {name} from the group.',

      'cam.policies.title': 'Policies',
      'cam.policies.list': 'Policies',
      'cam.policies.empty': 'No policy matches.',
      'cam.policies.search': 'Search policy names',
      'cam.policies.scope': 'Policy type',
      'cam.policies.all': 'All policies',
      'cam.policies.preset': 'Preset',
      'cam.policies.custom': 'Custom',
      'cam.policies.create': 'Create custom policy',
      'cam.policies.edit': 'Edit policy',
      'cam.policies.view': 'View policy',
      'cam.policies.name': 'Policy name',
      'cam.policies.desc': 'Description',
      'cam.policies.doc': 'Policy document (JSON)',
      'cam.policies.docHint': 'Policy syntax 2.0: version, statement (effect, action, resource, condition).',
      'cam.policies.save': 'Save',
      'cam.policies.saving': 'Saving…',
      'cam.policies.saved': 'Saved the policy {name}.',
      'cam.policies.deleted': 'Deleted the policy {name}.',
      'cam.policies.deleteAsk': 'Delete the policy {name}? It is detached from every user and group.',
      'cam.policies.at': 'line {line}, column {column}',
      'cam.policies.readOnly': 'Preset policies are maintained by the system and cannot be changed.',

      'cam.keys.title': 'API keys',
      'cam.keys.target': 'Keys of',
      'cam.keys.self': 'Myself ({uin})',
      'cam.keys.user': '{name} ({kind}, {uin})',
      'cam.keys.list': 'API keys',
      'cam.keys.empty': 'No API keys yet.',
      'cam.keys.create': 'Create key',
      'cam.keys.limit': 'At most 2 keys per identity. Disable a key before deleting it.',
      'cam.keys.id': 'SecretId',
      'cam.keys.secret': 'SecretKey',
      'cam.keys.status': 'Status',
      'cam.keys.Active': 'Enabled',
      'cam.keys.Inactive': 'Disabled',
      'cam.keys.enable': 'Enable',
      'cam.keys.disable': 'Disable',
      'cam.keys.created': 'Created the key {id}. Its SecretKey is shown only now.',
      'cam.keys.changed': 'The key {id} is now {state}.',
      'cam.keys.deleted': 'Deleted the key {id}.',
      'cam.keys.deleteAsk': 'Delete the key {id}? Programs using it can no longer call the API; this cannot be undone.',
      'cam.keys.newTitle': 'New key'
    }
  });

  /* ---- Helpers ------------------------------------------------------------ */

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

  function textEl(tag, className, key, vars) {
    var e = el(tag, className);
    setText(e, key, vars);
    return e;
  }

  function localTime(s) {
    if (!s)
      return '';
    var d = new Date(String(s).replace(' ', 'T') + 'Z');
    return isNaN(d.getTime()) ? s : d.toLocaleString(i18n.current(), { hour12: false });
  }

  function button(key, cls, onClick, vars) {
    var b = el('button', 'btn btn--sm ' + cls);
    b.type = 'button';
    setText(b, key, vars);
    b.addEventListener('click', function () {
      onClick(b);
    });
    return b;
  }

  function notice(key, vars) {
    setText($('notice-text'), key, vars);
    $('notice').hidden = false;
  }

  function clearMessages() {
    $('notice').hidden = true;
    $('page-error').hidden = true;
  }

  function fail(err) {
    if (err.code === shell.SESSION_INVALID)
      return shell.leave();
    shell.showError('page-error', 'cam.err.default', err);
    $('page-error').scrollIntoView({ block: 'nearest' });
  }

  // Runs fn with b disabled; errors go to the page's error box.
  // A list and its button ("attach this policy", "join this group"): the
  // chosen item's action runs, a notice names it, and the detail is redrawn.
  function onPick(selectId, buttonId, run, noticeKey, refresh) {
    $(buttonId).addEventListener('click', function () {
      var sel = $(selectId);
      if (!sel.value)
        return sel.focus();
      var name = sel.options[sel.selectedIndex].textContent;
      busy($(buttonId), async function () {
        await run(sel.value);
        notice(noticeKey, { name: name });
        await refresh();
      });
    });
  }

  async function busy(b, fn) {
    if (b) {
      b.disabled = true;
      b.classList.add('is-busy');
    }
    clearMessages();
    try {
      await fn();
    } catch (err) {
      fail(err);
    } finally {
      if (b && b.isConnected) {
        b.disabled = false;
        b.classList.remove('is-busy');
      }
    }
  }

  // An error about one field: shown under it and the field marked invalid.
  function fieldError(id, err) {
    var input = $(id);
    var box = $(id + '-error');
    input.setAttribute('aria-invalid', 'true');
    box.textContent = '';
    var key = 'err.' + err.code;
    if (i18n.has(key))
      box.appendChild(el('strong', 'field-error__title', t(key) + ' '));
    box.appendChild(el('span', 'field-error__message', err.message || t('err.network')));
    box.appendChild(el('code', 'field-error__code', err.code || ''));
    box.hidden = false;
    input.focus();
  }

  function clearFieldErrors(root) {
    root.querySelectorAll('[aria-invalid]').forEach(function (n) {
      n.removeAttribute('aria-invalid');
    });
    root.querySelectorAll('.field-error').forEach(function (n) {
      n.hidden = true;
    });
  }

  function confirmDialog(key, vars) {
    var dialog = $('cam-confirm');
    setText($('cam-confirm-text'), key, vars);
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise(function (resolve) {
      dialog.addEventListener('close', function () {
        resolve(dialog.returnValue === 'ok');
      }, { once: true });
    });
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
    var helper = el('textarea', 'clipboard-helper');
    helper.value = text;
    helper.setAttribute('readonly', '');
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

  // A secret shown once: the value, a copy button and its status.
  function secretRow(labelKey, value, id) {
    var row = el('div', 'secret-row');
    row.appendChild(textEl('p', 'secret-row__label', labelKey));
    var line = el('div', 'secret-row__line');
    var v = el('code', 'secret-row__value', value);
    v.id = id;
    v.setAttribute('translate', 'no');
    line.appendChild(v);
    var status = el('span', 'secret-row__status');
    status.setAttribute('role', 'status');
    line.appendChild(button('cam.copy', 'btn--secondary act-copy', async function () {
      var ok = await copyText(value);
      setText(status, ok ? 'cam.copied' : 'cam.copyFailed');
    }));
    line.appendChild(status);
    row.appendChild(line);
    return row;
  }

  function option(value, text) {
    var o = el('option', '', text);
    o.value = value;
    return o;
  }

  function fillSelect(select, items, valueOf, textOf) {
    select.textContent = '';
    select.appendChild(option('', t('cam.detail.pick')));
    items.forEach(function (it) {
      select.appendChild(option(String(valueOf(it)), textOf(it)));
    });
  }

  // Every policy the principal may list (presets first), page by page.
  async function allPolicies(scope, keyword) {
    var out = [];
    for (var page = 1; page <= 50; page++) {
      var params = { Scope: scope || 'All', Rp: 200, Page: page };
      if (keyword)
        params.Keyword = keyword;
      var r = await shell.action('ListPolicies', params);
      out = out.concat(r.List);
      if (out.length >= r.TotalNum || !r.List.length)
        break;
    }
    return out;
  }

  // Sub-users and collaborators, as one list with a kind each.
  async function allUsers() {
    var results = await Promise.allSettled([
      shell.action('ListUsers', {}),
      shell.action('ListCollaborators', { Limit: 200 })
    ]);
    var users = [];
    var error = null;
    if (results[0].status === 'fulfilled')
      results[0].value.Data.forEach(function (u) {
        users.push(Object.assign({ Kind: 'sub_user' }, u));
      });
    else
      error = results[0].reason;
    if (results[1].status === 'fulfilled')
      results[1].value.Data.forEach(function (u) {
        users.push(Object.assign({ Kind: 'collaborator' }, u));
      });
    else
      error = error || results[1].reason;
    if (error && users.length === 0 && results[0].status === 'rejected' && results[1].status === 'rejected')
      throw error;
    return { users: users, error: error };
  }

  function policyTypeKey(p) {
    var preset = p.Type === 2 || p.PolicyType === 'QCS';
    return preset ? 'cam.policies.preset' : 'cam.policies.custom';
  }

  function loaded() {
    $('loading').hidden = true;
  }

  /* ---- Users ---------------------------------------------------------- */

  function initUsers() {
    var users = [];
    var policies = null;
    var groups = null;
    var current = null;

    function kindTag(kind) {
      var tag = el('span', 'tag tag--' + kind);
      setText(tag, 'kind.' + kind);
      return tag;
    }

    function renderList() {
      var body = $('users-body');
      body.textContent = '';
      users.forEach(function (u) {
        var tr = el('tr', 'user-row');
        tr.setAttribute('data-name', u.Name);
        tr.setAttribute('data-kind', u.Kind);
        var name = el('td');
        name.appendChild(button('cam.detail', 'btn--link act-open', function () {
          openDetail(u);
        }));
        name.firstChild.textContent = u.Name;
        name.firstChild.removeAttribute('data-i18n');
        tr.appendChild(name);
        var kind = el('td');
        kind.appendChild(kindTag(u.Kind));
        tr.appendChild(kind);
        tr.appendChild(el('td', 'mono', String(u.Uin)));
        tr.appendChild(textEl('td', '', u.ConsoleLogin ? 'cam.yes' : 'cam.no'));
        tr.appendChild(el('td', '', localTime(u.CreateTime)));
        var actions = el('td', 'actions');
        actions.appendChild(button('cam.delete', 'btn--secondary act-delete', function (b) {
          deleteUser(u, b);
        }));
        tr.appendChild(actions);
        body.appendChild(tr);
      });
      $('users-empty').hidden = users.length > 0;
      $('users').hidden = users.length === 0;
    }

    async function refresh() {
      var r = await allUsers();
      users = r.users;
      renderList();
      $('list-card').hidden = false;
      if (r.error)
        fail(r.error);
    }

    async function deleteUser(u, b) {
      if (!await confirmDialog('cam.users.deleteAsk', { name: u.Name }))
        return;
      await busy(b, async function () {
        if (u.Kind === 'collaborator')
          await shell.action('DeleteCollaborator', { CollaboratorUin: u.Uin });
        else
          await shell.action('DeleteUser', { Name: u.Name, Force: 1 });
        showList();
        notice('cam.users.deleted', { name: u.Name });
        await refresh();
      });
    }

    function showList() {
      $('wizard').hidden = true;
      $('detail').hidden = true;
      $('list-card').hidden = false;
      current = null;
    }

    /* The 【新建用户】 wizard. */

    function kind() {
      return $('kind-collab').checked ? 'collaborator' : 'sub_user';
    }

    function syncWizard() {
      var collab = kind() === 'collaborator';
      $('sub-fields').hidden = collab;
      $('collab-fields').hidden = !collab;
      $('pw-choice').hidden = !$('new-console').checked;
      $('new-password-field').hidden = !$('new-console').checked || !$('pw-custom').checked;
      var perm = document.querySelector('input[name="perm"]:checked').value;
      $('perm-policy-picker').hidden = perm !== 'pick';
      $('perm-group-picker').hidden = perm !== 'groups';
    }

    function renderPolicyPicker() {
      var list = $('perm-policy-list');
      var filter = $('policy-filter').value.trim().toLowerCase();
      var checked = {};
      list.querySelectorAll('input:checked').forEach(function (c) {
        checked[c.value] = true;
      });
      list.textContent = '';
      (policies || []).forEach(function (p) {
        var li = el('li', 'pick');
        li.hidden = Boolean(filter) && p.PolicyName.toLowerCase().indexOf(filter) < 0;
        var label = el('label', 'pick__label');
        var box = el('input');
        box.type = 'checkbox';
        box.value = String(p.PolicyId);
        box.setAttribute('data-name', p.PolicyName);
        box.checked = Boolean(checked[box.value]);
        label.appendChild(box);
        label.appendChild(el('span', 'pick__name', p.PolicyName));
        label.appendChild(textEl('span', 'tag', policyTypeKey(p)));
        if (p.Description)
          label.appendChild(el('span', 'pick__desc', p.Description));
        li.appendChild(label);
        list.appendChild(li);
      });
    }

    function renderGroupPicker() {
      var list = $('perm-group-list');
      list.textContent = '';
      $('perm-groups-empty').hidden = (groups || []).length > 0;
      (groups || []).forEach(function (g) {
        var li = el('li', 'pick');
        var label = el('label', 'pick__label');
        var box = el('input');
        box.type = 'checkbox';
        box.value = String(g.GroupId);
        box.setAttribute('data-name', g.GroupName);
        label.appendChild(box);
        label.appendChild(el('span', 'pick__name', g.GroupName));
        li.appendChild(label);
        list.appendChild(li);
      });
    }

    async function loadChoices() {
      if (policies === null) {
        try {
          policies = await allPolicies('All');
        } catch (err) {
          policies = [];
          fail(err);
        }
      }
      if (groups === null) {
        try {
          groups = (await shell.action('ListGroups', { Rp: 200 })).GroupInfo;
        } catch (err) {
          groups = [];
        }
      }
      renderPolicyPicker();
      renderGroupPicker();
    }

    function openWizard() {
      clearMessages();
      var form = $('wizard-form');
      form.reset();
      clearFieldErrors(form);
      $('wizard-error').hidden = true;
      form.hidden = false;
      $('wizard-result').hidden = true;
      $('list-card').hidden = true;
      $('detail').hidden = true;
      $('wizard').hidden = false;
      syncWizard();
      $('wizard-title').focus();
      loadChoices();
    }

    // Which field an AddUser / AddCollaborator error is about.
    function errorField(code) {
      if (kind() === 'collaborator')
        return /^(InvalidParameter\.(UserNotExist|ParamError)|ResourceInUse\.Collaborator|LimitExceeded\.Uin|InvalidParameter|InvalidParameterValue|MissingParameter)$/.test(code)
          ? 'new-login-uin' : /Name/.test(code) ? 'new-collab-name' : null;
      if (/UserName|SubUserNameInUse|^MissingParameter$/.test(code))
        return 'new-name';
      if (/Password/.test(code))
        return 'new-password';
      return null;
    }

    async function create() {
      var collab = kind() === 'collaborator';
      if (collab) {
        var params = { CollaboratorUin: $('new-login-uin').value.trim() };
        if ($('new-collab-name').value.trim())
          params.Name = $('new-collab-name').value.trim();
        var c = await shell.action('AddCollaborator', params);
        return { uin: c.Uin, uid: c.Uid, name: c.Name };
      }
      var consoleLogin = $('new-console').checked;
      var p = { Name: $('new-name').value.trim(), ConsoleLogin: consoleLogin ? 1 : 0, UseApi: $('new-api').checked ? 1 : 0 };
      if (consoleLogin && $('pw-custom').checked)
        p.Password = $('new-password').value;
      var u = await shell.action('AddUser', p);
      return { uin: u.Uin, uid: u.Uid, name: u.Name, password: u.Password, secretId: u.SecretId, secretKey: u.SecretKey };
    }

    // The permissions step: official actions one after the other, as the
    // console of the cloud does (AttachUserPolicy / AddUserToGroup).
    async function grant(made) {
      var perm = document.querySelector('input[name="perm"]:checked').value;
      if (perm === 'admin') {
        var admin = (policies || []).filter(function (p) {
          return p.PolicyName === ADMIN_POLICY;
        })[0];
        var id = admin ? admin.PolicyId : (await allPolicies('QCS', ADMIN_POLICY)).filter(function (p) {
          return p.PolicyName === ADMIN_POLICY;
        })[0].PolicyId;
        await shell.action('AttachUserPolicy', { PolicyId: id, AttachUin: made.uin });
      } else if (perm === 'pick') {
        var boxes = $('perm-policy-list').querySelectorAll('input:checked');
        for (var i = 0; i < boxes.length; i++)
          await shell.action('AttachUserPolicy', { PolicyId: Number(boxes[i].value), AttachUin: made.uin });
      } else if (perm === 'groups') {
        var info = [];
        $('perm-group-list').querySelectorAll('input:checked').forEach(function (b) {
          info.push({ GroupId: Number(b.value), Uid: made.uid });
        });
        if (info.length)
          await shell.action('AddUserToGroup', { Info: info });
      }
    }

    function showResult(made, collab) {
      $('wizard-form').hidden = true;
      var box = $('wizard-result');
      box.hidden = false;
      if (collab)
        setText($('wizard-result-text'), 'cam.wizard.resultCollab', { name: made.name, uin: made.uin });
      else
        setText($('wizard-result-text'), 'cam.wizard.resultSub', { name: made.name });
      var secrets = $('wizard-secrets');
      secrets.textContent = '';
      if (!collab && $('new-console').checked) {
        var link = window.location.origin + '/?owner=' + shell.session().OwnerUin;
        secrets.appendChild(secretRow('cam.wizard.loginLink', link, 'created-login-link'));
      }
      if (made.password)
        secrets.appendChild(secretRow('cam.wizard.generated', made.password, 'created-password'));
      if (made.secretId) {
        secrets.appendChild(secretRow('cam.keys.id', made.secretId, 'created-secret-id'));
        secrets.appendChild(secretRow('cam.keys.secret', made.secretKey, 'created-secret-key'));
      }
      $('wizard-once').hidden = !made.password && !made.secretId;
      $('wizard-done').focus();
    }

    $('wizard-form').addEventListener('submit', async function (ev) {
      ev.preventDefault();
      var submit = $('wizard-submit');
      var collab = kind() === 'collaborator';
      clearFieldErrors($('wizard-form'));
      $('wizard-error').hidden = true;
      clearMessages();
      submit.disabled = true;
      submit.classList.add('is-busy');
      var made = null;
      try {
        made = await create();
        await grant(made);
        showResult(made, collab);
      } catch (err) {
        if (err.code === shell.SESSION_INVALID)
          return shell.leave();
        var field = made ? null : errorField(err.code);
        if (field) {
          fieldError(field, err);
        } else {
          shell.showError('wizard-error', made ? 'cam.wizard.partial' : 'cam.err.default', err);
          if (made)
            setText($('wizard-error-title'), 'cam.wizard.partial');
          $('wizard-error').scrollIntoView({ block: 'nearest' });
        }
        if (made)
          showResult(made, collab);
      } finally {
        submit.disabled = false;
        submit.classList.remove('is-busy');
      }
    });

    /* User detail. */

    async function openDetail(u) {
      current = u;
      clearMessages();
      $('list-card').hidden = true;
      $('wizard').hidden = true;
      $('detail').hidden = false;
      $('detail-title').textContent = u.Name;
      setText($('detail-kind'), 'kind.' + u.Kind);
      $('detail-uin').textContent = String(u.Uin);
      setText($('detail-console'), u.ConsoleLogin ? 'cam.yes' : 'cam.no');
      $('detail-keys').href = '/cam/keys?uin=' + encodeURIComponent(u.Uin);
      $('detail-title').focus();
      await loadChoices();
      fillSelect($('attach-policy'), policies || [], function (p) {
        return p.PolicyId;
      }, function (p) {
        return p.PolicyName;
      });
      fillSelect($('join-group'), groups || [], function (g) {
        return g.GroupId;
      }, function (g) {
        return g.GroupName;
      });
      await refreshDetail();
    }

    async function refreshDetail() {
      var u = current;
      var results = await Promise.allSettled([
        shell.action('ListAttachedUserPolicies', { TargetUin: u.Uin, Rp: 200 }),
        shell.action('ListGroupsForUser', { SubUin: u.Uin, Rp: 200 })
      ]);
      var pb = $('detail-policies-body');
      pb.textContent = '';
      var attached = results[0].status === 'fulfilled' ? results[0].value.List : [];
      attached.forEach(function (p) {
        var tr = el('tr', 'policy-row');
        tr.setAttribute('data-policy', p.PolicyName);
        tr.appendChild(el('td', '', p.PolicyName));
        tr.appendChild(textEl('td', '', policyTypeKey(p)));
        var a = el('td', 'actions');
        a.appendChild(button('cam.detail.detach', 'btn--secondary act-detach', function (b) {
          busy(b, async function () {
            await shell.action('DetachUserPolicy', { PolicyId: p.PolicyId, DetachUin: u.Uin });
            notice('cam.detached', { name: p.PolicyName });
            await refreshDetail();
          });
        }));
        tr.appendChild(a);
        pb.appendChild(tr);
      });
      $('detail-policies-empty').hidden = attached.length > 0;
      var gb = $('detail-groups-body');
      gb.textContent = '';
      var mine = results[1].status === 'fulfilled' ? results[1].value.GroupInfo : [];
      mine.forEach(function (g) {
        var tr = el('tr', 'group-row');
        tr.setAttribute('data-group', g.GroupName);
        tr.appendChild(el('td', '', g.GroupName));
        var a = el('td', 'actions');
        a.appendChild(button('cam.detail.leave', 'btn--secondary act-leave', function (b) {
          busy(b, async function () {
            await shell.action('RemoveUserFromGroup', { Info: [{ GroupId: g.GroupId, Uid: u.Uid }] });
            notice('cam.left', { name: g.GroupName });
            await refreshDetail();
          });
        }));
        tr.appendChild(a);
        gb.appendChild(tr);
      });
      $('detail-groups-empty').hidden = mine.length > 0;
      var denied = results.filter(function (r) {
        return r.status === 'rejected';
      })[0];
      if (denied)
        fail(denied.reason);
    }

    onPick('attach-policy', 'attach-policy-btn', function (value) {
      return shell.action('AttachUserPolicy', { PolicyId: Number(value), AttachUin: current.Uin });
    }, 'cam.attached', function () {
      return refreshDetail();
    });

    onPick('join-group', 'join-group-btn', function (value) {
      return shell.action('AddUserToGroup', { Info: [{ GroupId: Number(value), Uid: current.Uid }] });
    }, 'cam.joined', function () {
      return refreshDetail();
    });

    $('detail-delete').addEventListener('click', function () {
      deleteUser(current, $('detail-delete'));
    });

    $('create-user').addEventListener('click', openWizard);
    $('wizard-cancel').addEventListener('click', showList);
    $('detail-close').addEventListener('click', showList);
    $('wizard-done').addEventListener('click', function () {
      showList();
      busy(null, refresh);
    });
    $('wizard-form').addEventListener('change', syncWizard);
    $('policy-filter').addEventListener('input', renderPolicyPicker);
    document.addEventListener('bindery:langchange', function () {
      renderList();
    });

    shell.ready.then(async function () {
      try {
        await refresh();
      } catch (err) {
        fail(err);
      }
      loaded();
    });
  }

  /* ---- Groups ------------------------------------------------------------ */

  function initGroups() {
    var groups = [];
    var current = null;
    var policies = null;
    var users = null;

    function renderList() {
      var body = $('groups-body');
      body.textContent = '';
      groups.forEach(function (g) {
        var tr = el('tr', 'group-row');
        tr.setAttribute('data-group', g.GroupName);
        var name = el('td');
        var open = button('cam.detail', 'btn--link act-open', function () {
          openDetail(g);
        });
        open.removeAttribute('data-i18n');
        open.textContent = g.GroupName;
        name.appendChild(open);
        tr.appendChild(name);
        tr.appendChild(el('td', '', g.Remark || t('cam.none')));
        tr.appendChild(el('td', '', localTime(g.CreateTime)));
        var a = el('td', 'actions');
        a.appendChild(button('cam.delete', 'btn--secondary act-delete', async function (b) {
          if (!await confirmDialog('cam.groups.deleteAsk', { name: g.GroupName }))
            return;
          busy(b, async function () {
            await shell.action('DeleteGroup', { GroupId: g.GroupId });
            showList();
            notice('cam.groups.deleted', { name: g.GroupName });
            await refresh();
          });
        }));
        tr.appendChild(a);
        body.appendChild(tr);
      });
      $('groups-empty').hidden = groups.length > 0;
      $('groups').hidden = groups.length === 0;
    }

    async function refresh() {
      groups = (await shell.action('ListGroups', { Rp: 200 })).GroupInfo;
      renderList();
      $('list-card').hidden = false;
    }

    function showList() {
      $('detail').hidden = true;
      $('list-card').hidden = false;
      $('create-card').hidden = false;
      current = null;
    }

    $('create-group-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      clearFieldErrors($('create-group-form'));
      var name = $('group-name').value.trim();
      busy($('create-group'), async function () {
        try {
          var p = { GroupName: name };
          if ($('group-remark').value.trim())
            p.Remark = $('group-remark').value.trim();
          await shell.action('CreateGroup', p);
        } catch (err) {
          if (/GroupName|ParamError|InvalidParameterValue|MissingParameter/.test(err.code))
            return fieldError('group-name', err);
          throw err;
        }
        $('create-group-form').reset();
        notice('cam.groups.created', { name: name });
        await refresh();
      });
    });

    async function openDetail(g) {
      current = g;
      clearMessages();
      $('list-card').hidden = true;
      $('create-card').hidden = true;
      $('detail').hidden = false;
      $('detail-title').textContent = g.GroupName;
      $('detail-title').focus();
      if (policies === null)
        policies = await allPolicies('All').catch(function () {
          return [];
        });
      if (users === null)
        users = (await allUsers().catch(function () {
          return { users: [] };
        })).users;
      fillSelect($('attach-policy'), policies, function (p) {
        return p.PolicyId;
      }, function (p) {
        return p.PolicyName;
      });
      fillSelect($('add-member'), users, function (u) {
        return u.Uid;
      }, function (u) {
        return u.Name + ' (' + t('kind.' + u.Kind) + ')';
      });
      await refreshDetail();
    }

    async function refreshDetail() {
      var g = current;
      var results = await Promise.allSettled([
        shell.action('ListUsersForGroup', { GroupId: g.GroupId, Rp: 200 }),
        shell.action('ListAttachedGroupPolicies', { TargetGroupId: g.GroupId, Rp: 200 })
      ]);
      var members = results[0].status === 'fulfilled' ? results[0].value.UserInfo : [];
      var mb = $('members-body');
      mb.textContent = '';
      members.forEach(function (m) {
        var tr = el('tr', 'member-row');
        tr.setAttribute('data-name', m.Name);
        tr.appendChild(el('td', '', m.Name));
        tr.appendChild(textEl('td', '', m.UserType === 1 ? 'kind.collaborator' : 'kind.sub_user'));
        var a = el('td', 'actions');
        a.appendChild(button('cam.detail.leave', 'btn--secondary act-remove', function (b) {
          busy(b, async function () {
            await shell.action('RemoveUserFromGroup', { Info: [{ GroupId: g.GroupId, Uid: m.Uid }] });
            notice('cam.groups.removed', { name: m.Name });
            await refreshDetail();
          });
        }));
        tr.appendChild(a);
        mb.appendChild(tr);
      });
      $('members-empty').hidden = members.length > 0;
      var attached = results[1].status === 'fulfilled' ? results[1].value.List : [];
      var pb = $('detail-policies-body');
      pb.textContent = '';
      attached.forEach(function (p) {
        var tr = el('tr', 'policy-row');
        tr.setAttribute('data-policy', p.PolicyName);
        tr.appendChild(el('td', '', p.PolicyName));
        tr.appendChild(textEl('td', '', policyTypeKey(p)));
        var a = el('td', 'actions');
        a.appendChild(button('cam.detail.detach', 'btn--secondary act-detach', function (b) {
          busy(b, async function () {
            await shell.action('DetachGroupPolicy', { PolicyId: p.PolicyId, DetachGroupId: g.GroupId });
            notice('cam.detached', { name: p.PolicyName });
            await refreshDetail();
          });
        }));
        tr.appendChild(a);
        pb.appendChild(tr);
      });
      $('detail-policies-empty').hidden = attached.length > 0;
      var denied = results.filter(function (r) {
        return r.status === 'rejected';
      })[0];
      if (denied)
        fail(denied.reason);
    }

    onPick('attach-policy', 'attach-policy-btn', function (value) {
      return shell.action('AttachGroupPolicy', { PolicyId: Number(value), AttachGroupId: current.GroupId });
    }, 'cam.attached', function () {
      return refreshDetail();
    });

    onPick('add-member', 'add-member-btn', function (value) {
      return shell.action('AddUserToGroup', { Info: [{ GroupId: current.GroupId, Uid: Number(value) }] });
    }, 'cam.groups.added', function () {
      return refreshDetail();
    });

    $('detail-close').addEventListener('click', showList);
    document.addEventListener('bindery:langchange', renderList);

    shell.ready.then(async function () {
      try {
        await refresh();
      } catch (err) {
        fail(err);
      }
      loaded();
    });
  }

  /* ---- Policies ----------------------------------------------------------- */

  function initPolicies() {
    var list = [];
    var editing = null; // null: creating; else the policy being edited/viewed

    function renderList() {
      var body = $('policies-body');
      body.textContent = '';
      list.forEach(function (p) {
        var preset = p.Type === 2;
        var tr = el('tr', 'policy-row');
        tr.setAttribute('data-policy', p.PolicyName);
        tr.setAttribute('data-type', preset ? 'preset' : 'custom');
        var name = el('td');
        var open = button('cam.detail', 'btn--link act-open', function () {
          openEditor(p);
        });
        open.removeAttribute('data-i18n');
        open.textContent = p.PolicyName;
        name.appendChild(open);
        tr.appendChild(name);
        var type = el('td');
        type.appendChild(textEl('span', 'tag', policyTypeKey(p)));
        tr.appendChild(type);
        tr.appendChild(el('td', 'policy-row__desc', p.Description || t('cam.none')));
        tr.appendChild(el('td', '', String(p.Attachments || 0)));
        var a = el('td', 'actions');
        if (!preset)
          a.appendChild(button('cam.delete', 'btn--secondary act-delete', async function (b) {
            if (!await confirmDialog('cam.policies.deleteAsk', { name: p.PolicyName }))
              return;
            busy(b, async function () {
              await shell.action('DeletePolicy', { PolicyId: [p.PolicyId] });
              notice('cam.policies.deleted', { name: p.PolicyName });
              await refresh();
            });
          }));
        tr.appendChild(a);
        body.appendChild(tr);
      });
      $('policies-empty').hidden = list.length > 0;
      $('policies').hidden = list.length === 0;
    }

    async function refresh() {
      list = await allPolicies($('policy-scope').value, $('policy-search').value.trim());
      renderList();
      $('list-card').hidden = false;
    }

    function showList() {
      $('editor').hidden = true;
      $('list-card').hidden = false;
    }

    function clearDocError() {
      $('doc-error').hidden = true;
      $('policy-doc').removeAttribute('aria-invalid');
    }

    // The backend says where a document is wrong: "PolicyDocument line L
    // column C: …". Show it at that place: the position in words, the
    // cursor put there, and the offending line quoted.
    function showDocError(err) {
      var m = /line (\d+) column (\d+)/.exec(err.message || '');
      var doc = $('policy-doc');
      var at = $('doc-error-at');
      var lineText = $('doc-error-line');
      doc.setAttribute('aria-invalid', 'true');
      setText($('doc-error-title'), i18n.has('err.' + err.code) ? 'err.' + err.code : 'cam.err.default');
      $('doc-error-message').textContent = err.message;
      $('doc-error-code').textContent = err.code;
      at.hidden = !m;
      lineText.hidden = !m;
      if (m) {
        var line = Number(m[1]);
        var column = Math.max(1, Number(m[2]));
        setText(at, 'cam.policies.at', { line: line, column: column });
        at.setAttribute('data-line', String(line));
        at.setAttribute('data-column', String(column));
        var lines = doc.value.split('\n');
        var offset = 0;
        for (var i = 0; i < line - 1 && i < lines.length; i++)
          offset += lines[i].length + 1;
        var here = lines[line - 1] || '';
        lineText.textContent = line + ' | ' + here;
        offset += Math.min(column - 1, here.length);
        doc.focus();
        doc.setSelectionRange(offset, Math.min(offset + 1, doc.value.length));
      }
      $('doc-error').hidden = false;
    }

    async function openEditor(p) {
      clearMessages();
      clearDocError();
      clearFieldErrors($('editor-form'));
      editing = p;
      var preset = Boolean(p && p.Type === 2);
      setText($('editor-title'), !p ? 'cam.policies.create' : preset ? 'cam.policies.view' : 'cam.policies.edit');
      $('policy-name').value = p ? p.PolicyName : '';
      $('policy-desc').value = p ? p.Description || '' : '';
      $('policy-doc').value = p ? '' : POLICY_TEMPLATE;
      ['policy-name', 'policy-desc', 'policy-doc'].forEach(function (id) {
        $(id).readOnly = preset;
      });
      $('policy-save').hidden = preset;
      $('editor-readonly').hidden = !preset;
      $('list-card').hidden = true;
      $('editor').hidden = false;
      $('editor-title').focus();
      if (p) {
        try {
          var full = await shell.action('GetPolicy', { PolicyId: p.PolicyId });
          $('policy-doc').value = prettyJson(full.PolicyDocument);
          $('policy-desc').value = full.Description || '';
        } catch (err) {
          fail(err);
        }
      }
    }

    function prettyJson(text) {
      try {
        return JSON.stringify(JSON.parse(text), null, 2) + '\n';
      } catch (e) {
        return text;
      }
    }

    $('editor-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      clearDocError();
      clearFieldErrors($('editor-form'));
      var name = $('policy-name').value.trim();
      var params = { PolicyName: name, PolicyDocument: $('policy-doc').value, Description: $('policy-desc').value };
      busy($('policy-save'), async function () {
        try {
          if (editing) {
            params.PolicyId = editing.PolicyId;
            await shell.action('UpdatePolicy', params);
          } else {
            await shell.action('CreatePolicy', params);
          }
        } catch (err) {
          if (/^FailedOperation\.PolicyNameInUse$|^InvalidParameter\.PolicyNameError$/.test(err.code))
            return fieldError('policy-name', err);
          if (/^InvalidParameter\.Description/.test(err.code))
            return fieldError('policy-desc', err);
          if (err.code.indexOf('InvalidParameter.') === 0 || err.code === 'MissingParameter')
            return showDocError(err);
          throw err;
        }
        showList();
        notice('cam.policies.saved', { name: name });
        await refresh();
      });
    });

    $('policy-doc').addEventListener('input', clearDocError);
    $('create-policy').addEventListener('click', function () {
      openEditor(null);
    });
    $('editor-cancel').addEventListener('click', showList);
    $('policy-filter-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      busy($('policy-search-btn'), refresh);
    });
    $('policy-scope').addEventListener('change', function () {
      busy(null, refresh);
    });
    document.addEventListener('bindery:langchange', renderList);

    shell.ready.then(async function () {
      try {
        await refresh();
      } catch (err) {
        fail(err);
      }
      loaded();
    });
  }

  /* ---- API keys ------------------------------------------------------------ */

  function initKeys() {
    var target = '';
    var keys = [];

    function params(extra) {
      var p = Object.assign({}, extra || {});
      if (target)
        p.TargetUin = Number(target);
      return p;
    }

    function renderKeys() {
      var body = $('keys-body');
      body.textContent = '';
      keys.forEach(function (k) {
        var tr = el('tr', 'key-row');
        tr.setAttribute('data-key', k.AccessKeyId);
        tr.setAttribute('data-status', k.Status);
        tr.appendChild(el('td', 'mono', k.AccessKeyId));
        var st = el('td');
        st.appendChild(textEl('span', 'badge badge--' + (k.Status === 'Active' ? 'active' : 'unlinked'), 'cam.keys.' + k.Status));
        tr.appendChild(st);
        tr.appendChild(el('td', '', localTime(k.CreateTime)));
        var a = el('td', 'actions');
        var next = k.Status === 'Active' ? 'Inactive' : 'Active';
        a.appendChild(button(next === 'Active' ? 'cam.keys.enable' : 'cam.keys.disable',
          'btn--secondary act-toggle', function (b) {
            busy(b, async function () {
              await shell.action('UpdateAccessKey', params({ AccessKeyId: k.AccessKeyId, Status: next }));
              notice('cam.keys.changed', { id: k.AccessKeyId, state: t('cam.keys.' + next) });
              await refresh();
            });
          }));
        // The console flow: a key is disabled before it can be deleted.
        if (k.Status === 'Inactive')
          a.appendChild(button('cam.delete', 'btn--danger act-delete', async function (b) {
            if (!await confirmDialog('cam.keys.deleteAsk', { id: k.AccessKeyId }))
              return;
            busy(b, async function () {
              await shell.action('DeleteAccessKey', params({ AccessKeyId: k.AccessKeyId }));
              notice('cam.keys.deleted', { id: k.AccessKeyId });
              await refresh();
            });
          }));
        tr.appendChild(a);
        body.appendChild(tr);
      });
      $('keys-empty').hidden = keys.length > 0;
      $('keys').hidden = keys.length === 0;
    }

    async function refresh() {
      keys = (await shell.action('ListAccessKeys', params())).AccessKeys;
      renderKeys();
      $('list-card').hidden = false;
    }

    async function fillTargets(s) {
      var sel = $('key-target');
      sel.textContent = '';
      sel.appendChild(option('', t('cam.keys.self', { uin: s.Uin })));
      // Others' keys: the users of the account this principal may list.
      var r = await allUsers().catch(function () {
        return { users: [] };
      });
      r.users.forEach(function (u) {
        if (String(u.Uin) !== s.Uin)
          sel.appendChild(option(String(u.Uin), t('cam.keys.user', { name: u.Name, kind: t('kind.' + u.Kind), uin: u.Uin })));
      });
      var wanted = new URLSearchParams(window.location.search).get('uin') || '';
      if (wanted && wanted !== s.Uin && sel.querySelector('option[value="' + CSS.escape(wanted) + '"]'))
        sel.value = wanted;
      target = sel.value;
    }

    $('key-target').addEventListener('change', function () {
      target = $('key-target').value;
      $('new-key').hidden = true;
      busy(null, refresh);
    });

    $('create-key').addEventListener('click', function () {
      busy($('create-key'), async function () {
        var r = await shell.action('CreateAccessKey', params());
        var box = $('new-key-secrets');
        box.textContent = '';
        box.appendChild(secretRow('cam.keys.id', r.AccessKey.AccessKeyId, 'new-secret-id'));
        box.appendChild(secretRow('cam.keys.secret', r.AccessKey.SecretAccessKey, 'new-secret-key'));
        $('new-key').hidden = false;
        notice('cam.keys.created', { id: r.AccessKey.AccessKeyId });
        await refresh();
      });
    });

    $('new-key-close').addEventListener('click', function () {
      $('new-key-secrets').textContent = '';
      $('new-key').hidden = true;
    });

    document.addEventListener('bindery:langchange', renderKeys);

    shell.ready.then(async function (s) {
      await fillTargets(s);
      try {
        await refresh();
      } catch (err) {
        fail(err);
      }
      loaded();
    });
  }

  var page = document.body.getAttribute('data-page');
  var init = { 'cam-users': initUsers, 'cam-groups': initGroups, 'cam-policies': initPolicies, 'cam-keys': initKeys }[page];
  if (init)
    init();
})();
