// Every word the console shows, in English and Simplified Chinese.
//
// Markup carries keys (data-i18n, data-i18n-placeholder, data-i18n-aria-label, data-i18n-title);
// code calls t(key, params). Values are plain text: params are substituted as text and
// everything lands in textContent or attributes, never in markup. The agent's choice is kept
// in localStorage; without one, the server's configured language (hello.language) or the
// browser's decides. The two tables must have the same keys (tests/ui checks).

const en = {
  "app.name": "Contact Center",
  "app.title": "Agent console",
  "app.title_count": "({n}) Agent console",
  "lang.label": "Language",
  "lang.en": "English",
  "lang.zh-CN": "中文",

  "login.title": "Sign in",
  "login.subtitle": "Agent console",
  "login.user": "Login",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.failed": "Wrong login or password.",
  "login.missing": "Enter your login and password.",
  "login.unavailable": "The server cannot be reached. Try again in a moment.",
  "session.logout": "Sign out",
  "session.expired": "Your session has ended. Please sign in again.",

  "state.label": "Your status",
  "state.available": "Available",
  "state.away": "Away",
  "state.offline": "Offline",
  "state.available_reason": "Available ({reason})",
  "state.away_reason": "Away: {reason}",
  "state.offline_reason": "Offline: {reason}",
  "reason.break": "Break",
  "reason.lunch": "Lunch",
  "reason.training": "Training",
  "reason.meeting": "Meeting",
  "reason.missed_offers": "missed offers",
  "reason.disconnected": "disconnected",
  "reason.logout": "signed out",

  "connection.connecting": "Connecting…",
  "connection.online": "Connected",
  "connection.reconnecting": "Reconnecting…",
  "connection.offline": "Not connected",

  "inbox.label": "Offers and conversations",
  "offers.title": "Incoming",
  "offers.empty": "No offers waiting.",
  "offer.accept": "Accept",
  "offer.accepting": "Accepting…",
  "offer.reject": "Reject",
  "offer.seconds": "{s} s",
  "offer.expiring": "Expiring…",
  "offer.no_preview": "(no message yet)",
  "conversations.title": "My conversations",
  "conversations.empty": "No open conversations. Set yourself available to receive offers.",
  "conversations.empty_available": "No open conversations. New ones appear under Incoming.",
  "conversation.none": "Select a conversation, or accept an offer.",

  "transfer.label": "Transfer",
  "transfer.queue": "To queue…",
  "transfer.agent": "To agent…",
  "transfer.agent_option": "{name} ({state})",
  "transfer.submit": "Transfer",
  "transfer.choose": "Choose a queue or an agent to transfer to.",
  "close.submit": "Close",
  "close.finish": "Finish and close",

  "transcript.loading": "Loading the conversation…",
  "transcript.load_failed": "The conversation could not be loaded; it will be retried.",
  "typing.customer": "{name} is typing…",

  "msg.customer": "Customer",
  "msg.you": "You",
  "msg.agent": "Agent",
  "msg.system": "System",
  "msg.queued": "Waiting for the connection…",
  "msg.sending": "Sending…",
  "msg.retry": "Retry",
  "msg.discard": "Discard",
  "msg.delivery_failed": "Not delivered",
  "msg.delivery_failed_because": "Not delivered: {error}",
  "delivery.sent": "Sent",
  "delivery.failed": "Failed",
  "delivery.queued": "Queued",
  "delivery.delivered": "Delivered",
  "delivery.undelivered": "Undelivered",
  "delivery.read": "Read",
  "delivery.delayed": "Delayed, still trying",
  "delivery.relayed": "Relayed",
  "delivery.expanded": "Delivered to a list",

  "wrapup.label": "Wrap-up",
  "wrapup.disposition": "Disposition…",
  "wrapup.notes": "Wrap-up notes (internal)",
  "wrapup.submit": "End conversation",
  "wrapup.choose": "Choose a disposition first.",
  "wrapup.done": "In wrap-up · {disposition}",

  "reply.placeholder": "Reply to the customer…",
  "reply.hint": "Enter to send · Shift+Enter for a new line",
  "reply.send": "Send",
  "canned.label": "Canned responses…",
  "canned.none": "No canned responses",
  "note.label": "Internal note",
  "note.placeholder": "Note for colleagues (never sent to the customer)…",
  "note.send": "Add note",
  "note.internal": "Internal",

  "customer.label": "Customer",
  "customer.none": "The customer of the open conversation appears here.",
  "customer.anonymous": "Unknown customer",
  "customer.identities": "Contact details",
  "customer.points": "{points} points",
  "customer.load_failed": "The customer profile could not be loaded.",
  "history.title": "History, all channels",
  "history.routing": "Routing",
  "history.empty": "No history yet.",
  "history.more": "Load more",
  "history.loading": "Loading…",

  "channel.chat": "Chat",
  "channel.email": "Email",
  "channel.sms": "SMS",
  "channel.voice": "Voice",
  "channel.none": "Profile",
  "identity.email": "Email",
  "identity.phone": "Phone",
  "identity.chat": "Chat",
  "identity.sip": "SIP",
  "tier.standard": "Standard",
  "tier.silver": "Silver",
  "tier.gold": "Gold",
  "tier.platinum": "Platinum",
  "tier.diamond": "Diamond",

  "istate.queued": "Queued",
  "istate.offered": "Offered",
  "istate.assigned": "Active",
  "istate.wrap_up": "Wrap-up",
  "istate.closed": "Closed",
  "istate.abandoned": "Abandoned",
  "event.offer": "Offered to an agent",
  "event.accept": "Accepted",
  "event.reject": "Rejected",
  "event.revoke": "Offer withdrawn ({reason})",
  "event.transfer_queue": "Transferred to {queue}",
  "event.transfer_agent": "Transferred to an agent",
  "event.wrap_up": "Ended · {disposition}",
  "event.closed_reason": "Closed ({reason})",
  "event.escalated": "Escalated",
  "event.state": "Status: {state}",
  "event.call": "Call: {event}",
  "event.delivery": "Delivery: {status}",
  "event.merge": "Merged with {name}",
  "event.identity_added": "Added {kind} {address}",
  "event.profile_change": "Profile changed: {fields}",
  "revoke.expired": "not answered",
  "revoke.rejected": "rejected",
  "revoke.abandoned": "customer left",
  "revoke.transferred": "transferred",
  "revoke.agent_unavailable": "agent unavailable",
  "revoke.restart": "server restart",
  "closed.closed": "closed",
  "closed.no_agent": "no agent available",
  "closed.wrapup_elapsed": "wrap-up time over",

  "notice.offer_gone": "An offer was withdrawn: {reason}.",
  "notice.revoked": "{name}: the conversation left your list ({reason}).",
  "notice.delivery_failed": "A message to {name} could not be delivered.",
  "notice.not_connected": "Not connected; try again when the console is back online.",

  "error.bad_json": "The server could not read the message.",
  "error.bad_message": "The server refused the message as malformed.",
  "error.not_offered": "This offer is no longer yours.",
  "error.unknown_interaction": "This conversation no longer exists.",
  "error.unknown_agent": "No such agent.",
  "error.unknown_queue": "No such queue.",
  "error.unknown_disposition": "Unknown disposition.",
  "error.not_assigned": "This conversation is not assigned to you.",
  "error.bad_state": "That is not possible in the current state.",
  "error.unavailable": "The server is temporarily unavailable; try again.",
  "error.invalid": "The server refused the request.",
  "error.unknown": "Something went wrong.",

  "reason.supervisor": "set by a supervisor",
  "mode.label": "View",
  "mode.agent": "Agent",
  "mode.supervisor": "Supervisor",
  "activity.available": "Available",
  "activity.busy": "Busy",
  "activity.wrap_up": "Wrap-up",
  "activity.away": "Away",
  "activity.offline": "Offline",
  "sup.title": "Real-time overview",
  "sup.reports": "Today's report:",
  "sup.report_queue": "By queue (CSV)",
  "sup.report_agent": "By agent (CSV)",
  "sup.waiting": "Waiting",
  "sup.longest": "Longest wait",
  "sup.sl": "Service level, 15 min",
  "sup.sl_target": "target {target} within {seconds} s",
  "sup.today_line": "Today: {offered} in · {answered} answered · {abandoned} abandoned",
  "sup.speed_line": "15 min: ASA {asa} · AHT {aht}",
  "sup.none": "–",
  "sup.duration_s": "{s} s",
  "sup.duration_m": "{m} min {s} s",
  "sup.duration_h": "{h} h {m} min",
  "sup.chart_depth": "Waiting, last hour",
  "sup.chart_sl": "Service level (15 min), last hour",
  "sup.alert_waiting": "{queue}: {value} waiting (alert above {threshold})",
  "sup.alert_service_level": "{queue}: service level {value}, below the {threshold} target",
  "sup.alert_cleared": "{queue}: back to normal",
  "sup.agents": "Agents",
  "sup.col_agent": "Agent",
  "sup.col_state": "Status",
  "sup.col_time": "In status",
  "sup.col_work": "Current interactions",
  "sup.col_occupancy": "Occupancy today",
  "sup.col_answered": "Answered today",
  "sup.col_action": "Change",
  "sup.set_state": "Set status…",
  "sup.state_set": "{name} is now {state}.",
  "sup.waiting_list": "Waiting interactions",
  "sup.no_waiting": "Nobody is waiting.",
  "sup.move": "Move",
  "sup.move_to": "Move to queue…",
  "sup.move_choose": "Choose the queue to move it to.",
  "sup.moved": "Moved to {queue}.",
  "sup.read": "Read",
  "sup.reader_title": "Reading silently · {id}",
  "sup.reader_hint": "Read-only: neither the customer nor the agent sees you.",
  "sup.reader_close": "Close",
};

const zhCN = {
  "app.name": "联络中心",
  "app.title": "坐席工作台",
  "app.title_count": "({n}) 坐席工作台",
  "lang.label": "语言",
  "lang.en": "English",
  "lang.zh-CN": "中文",

  "login.title": "登录",
  "login.subtitle": "坐席工作台",
  "login.user": "账号",
  "login.password": "密码",
  "login.submit": "登录",
  "login.failed": "账号或密码错误。",
  "login.missing": "请输入账号和密码。",
  "login.unavailable": "无法连接服务器，请稍后再试。",
  "session.logout": "退出登录",
  "session.expired": "登录已失效，请重新登录。",

  "state.label": "我的状态",
  "state.available": "在线",
  "state.away": "离开",
  "state.offline": "离线",
  "state.available_reason": "在线（{reason}）",
  "state.away_reason": "离开：{reason}",
  "state.offline_reason": "离线：{reason}",
  "reason.break": "休息",
  "reason.lunch": "午餐",
  "reason.training": "培训",
  "reason.meeting": "会议",
  "reason.missed_offers": "多次未接",
  "reason.disconnected": "连接断开",
  "reason.logout": "已退出",

  "connection.connecting": "正在连接…",
  "connection.online": "已连接",
  "connection.reconnecting": "正在重新连接…",
  "connection.offline": "未连接",

  "inbox.label": "来电与会话",
  "offers.title": "待接入",
  "offers.empty": "暂无待接入的会话。",
  "offer.accept": "接入",
  "offer.accepting": "正在接入…",
  "offer.reject": "拒绝",
  "offer.seconds": "{s} 秒",
  "offer.expiring": "即将超时…",
  "offer.no_preview": "（暂无消息）",
  "conversations.title": "我的会话",
  "conversations.empty": "暂无进行中的会话。将状态设为“在线”即可接收会话。",
  "conversations.empty_available": "暂无进行中的会话。新会话会出现在“待接入”中。",
  "conversation.none": "请选择一个会话，或接入新的会话。",

  "transfer.label": "转接",
  "transfer.queue": "转至队列…",
  "transfer.agent": "转至坐席…",
  "transfer.agent_option": "{name}（{state}）",
  "transfer.submit": "转接",
  "transfer.choose": "请选择要转接的队列或坐席。",
  "close.submit": "关闭",
  "close.finish": "完成并关闭",

  "transcript.loading": "正在加载会话…",
  "transcript.load_failed": "会话加载失败，稍后将自动重试。",
  "typing.customer": "{name} 正在输入…",

  "msg.customer": "客户",
  "msg.you": "我",
  "msg.agent": "坐席",
  "msg.system": "系统",
  "msg.queued": "等待连接…",
  "msg.sending": "发送中…",
  "msg.retry": "重试",
  "msg.discard": "放弃",
  "msg.delivery_failed": "发送失败",
  "msg.delivery_failed_because": "发送失败：{error}",
  "delivery.sent": "已发送",
  "delivery.failed": "失败",
  "delivery.queued": "排队中",
  "delivery.delivered": "已送达",
  "delivery.undelivered": "未送达",
  "delivery.read": "已读",
  "delivery.delayed": "延迟，仍在重试",
  "delivery.relayed": "已转交",
  "delivery.expanded": "已送达列表",

  "wrapup.label": "话后处理",
  "wrapup.disposition": "处理结果…",
  "wrapup.notes": "话后备注（仅内部可见）",
  "wrapup.submit": "结束会话",
  "wrapup.choose": "请先选择处理结果。",
  "wrapup.done": "话后处理中 · {disposition}",

  "reply.placeholder": "回复客户…",
  "reply.hint": "Enter 发送 · Shift+Enter 换行",
  "reply.send": "发送",
  "canned.label": "快捷回复…",
  "canned.none": "暂无快捷回复",
  "note.label": "内部备注",
  "note.placeholder": "给同事的备注（不会发送给客户）…",
  "note.send": "添加备注",
  "note.internal": "内部",

  "customer.label": "客户",
  "customer.none": "当前会话的客户信息将显示在这里。",
  "customer.anonymous": "未知客户",
  "customer.identities": "联系方式",
  "customer.points": "{points} 积分",
  "customer.load_failed": "客户资料加载失败。",
  "history.title": "全渠道历史记录",
  "history.routing": "路由",
  "history.empty": "暂无历史记录。",
  "history.more": "加载更多",
  "history.loading": "加载中…",

  "channel.chat": "在线聊天",
  "channel.email": "邮件",
  "channel.sms": "短信",
  "channel.voice": "电话",
  "channel.none": "资料",
  "identity.email": "邮箱",
  "identity.phone": "手机",
  "identity.chat": "聊天",
  "identity.sip": "SIP",
  "tier.standard": "普通",
  "tier.silver": "白银",
  "tier.gold": "黄金",
  "tier.platinum": "铂金",
  "tier.diamond": "钻石",

  "istate.queued": "排队中",
  "istate.offered": "待接入",
  "istate.assigned": "进行中",
  "istate.wrap_up": "话后处理",
  "istate.closed": "已关闭",
  "istate.abandoned": "已放弃",
  "event.offer": "已分配给坐席",
  "event.accept": "已接入",
  "event.reject": "已拒绝",
  "event.revoke": "分配已撤回（{reason}）",
  "event.transfer_queue": "已转至 {queue}",
  "event.transfer_agent": "已转至坐席",
  "event.wrap_up": "已结束 · {disposition}",
  "event.closed_reason": "已关闭（{reason}）",
  "event.escalated": "已升级",
  "event.state": "状态：{state}",
  "event.call": "通话：{event}",
  "event.delivery": "投递：{status}",
  "event.merge": "已与 {name} 合并",
  "event.identity_added": "已添加{kind} {address}",
  "event.profile_change": "资料已修改：{fields}",
  "revoke.expired": "超时未接",
  "revoke.rejected": "已拒绝",
  "revoke.abandoned": "客户已离开",
  "revoke.transferred": "已转接",
  "revoke.agent_unavailable": "坐席不可用",
  "revoke.restart": "服务器重启",
  "closed.closed": "已关闭",
  "closed.no_agent": "无可用坐席",
  "closed.wrapup_elapsed": "话后处理超时",

  "notice.offer_gone": "一个待接入会话已撤回：{reason}。",
  "notice.revoked": "{name}：会话已移出您的列表（{reason}）。",
  "notice.delivery_failed": "发给 {name} 的消息发送失败。",
  "notice.not_connected": "尚未连接，请在工作台恢复连接后重试。",

  "error.bad_json": "服务器无法读取该消息。",
  "error.bad_message": "服务器拒绝了格式错误的消息。",
  "error.not_offered": "该会话已不再分配给您。",
  "error.unknown_interaction": "该会话已不存在。",
  "error.unknown_agent": "没有这个坐席。",
  "error.unknown_queue": "没有这个队列。",
  "error.unknown_disposition": "未知的处理结果。",
  "error.not_assigned": "该会话未分配给您。",
  "error.bad_state": "当前状态下无法执行该操作。",
  "error.unavailable": "服务器暂时不可用，请重试。",
  "error.invalid": "服务器拒绝了该请求。",
  "error.unknown": "出现了问题。",

  "reason.supervisor": "主管设置",
  "mode.label": "视图",
  "mode.agent": "坐席",
  "mode.supervisor": "主管",
  "activity.available": "空闲",
  "activity.busy": "忙碌",
  "activity.wrap_up": "话后处理",
  "activity.away": "离开",
  "activity.offline": "离线",
  "sup.title": "实时监控",
  "sup.reports": "今日报表：",
  "sup.report_queue": "按队列（CSV）",
  "sup.report_agent": "按坐席（CSV）",
  "sup.waiting": "排队中",
  "sup.longest": "最长等待",
  "sup.sl": "服务水平（15 分钟）",
  "sup.sl_target": "目标 {target}，{seconds} 秒内",
  "sup.today_line": "今日：进线 {offered} · 接通 {answered} · 放弃 {abandoned}",
  "sup.speed_line": "15 分钟：平均应答 {asa} · 平均处理 {aht}",
  "sup.none": "–",
  "sup.duration_s": "{s} 秒",
  "sup.duration_m": "{m} 分 {s} 秒",
  "sup.duration_h": "{h} 小时 {m} 分",
  "sup.chart_depth": "排队数（近一小时）",
  "sup.chart_sl": "服务水平（15 分钟，近一小时）",
  "sup.alert_waiting": "{queue}：{value} 人排队（告警阈值 {threshold}）",
  "sup.alert_service_level": "{queue}：服务水平 {value}，低于目标 {threshold}",
  "sup.alert_cleared": "{queue}：已恢复正常",
  "sup.agents": "坐席",
  "sup.col_agent": "坐席",
  "sup.col_state": "状态",
  "sup.col_time": "持续时间",
  "sup.col_work": "当前会话",
  "sup.col_occupancy": "今日占用率",
  "sup.col_answered": "今日接通",
  "sup.col_action": "修改",
  "sup.set_state": "设置状态…",
  "sup.state_set": "{name} 已设为{state}。",
  "sup.waiting_list": "排队中的会话",
  "sup.no_waiting": "当前无人排队。",
  "sup.move": "转移",
  "sup.move_to": "转至队列…",
  "sup.move_choose": "请选择要转入的队列。",
  "sup.moved": "已转至 {queue}。",
  "sup.read": "查看",
  "sup.reader_title": "静默查看 · {id}",
  "sup.reader_hint": "只读：客户和坐席都看不到您。",
  "sup.reader_close": "关闭",
};

export const LANGUAGES = { en, "zh-CN": zhCN };
const STORAGE_KEY = "cc.console.language";

let current = "en";
const listeners = new Set();

// Right-to-left letters and direction controls (U+202E "right-to-left override" in a customer's name
// would otherwise reverse the rest of the sentence the name is put into).
const BIDI = /[\u0590-\u08ff\u200e\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufefe]/;

/** A value put into a sentence: isolated (FSI ... PDI) when it could change the direction around it. */
function isolated(value) {
  const text = String(value);
  return BIDI.test(text) ? `\u2068${text}\u2069` : text;
}

function substitute(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? isolated(params[name]) : whole));
}

/** The text for key in the current language (English, then the key itself, if missing). */
export function t(key, params = {}) {
  const text = LANGUAGES[current][key] ?? en[key];
  return text === undefined ? key : substitute(text, params);
}

/** Like t, but for keys built from server codes: an unknown code shows fallback, not a key. */
export function tOr(key, fallback, params = {}) {
  const text = LANGUAGES[current][key] ?? en[key];
  return text === undefined ? String(fallback ?? "") : substitute(text, params);
}

export function language() {
  return current;
}

function stored() {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: fall back to the defaults
  }
}

/** True when the agent picked a language here before (then the server default does not apply). */
export function hasChosenLanguage() {
  return stored() in LANGUAGES;
}

/** The language to start in: the agent's choice, then the server's default, then the browser's. */
export function preferredLanguage(serverDefault = null) {
  const choice = stored();
  if (choice in LANGUAGES) return choice;
  if (serverDefault in LANGUAGES) return serverDefault;
  const browser = navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"];
  return browser.some((tag) => String(tag).toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
}

export function setLanguage(lang, { remember = false } = {}) {
  if (!(lang in LANGUAGES)) return;
  current = lang;
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      // not remembered across reloads; still switched now
    }
  }
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
}

const ATTRIBUTES = [
  ["i18nPlaceholder", "placeholder"],
  ["i18nAriaLabel", "aria-label"],
  ["i18nTitle", "title"],
];

/** Fill every data-i18n* element under root with the current language's text. */
export function applyI18n(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [data, attribute] of ATTRIBUTES) {
    const selector = `[data-${attribute === "aria-label" ? "i18n-aria-label" : `i18n-${attribute}`}]`;
    for (const el of root.querySelectorAll(selector)) el.setAttribute(attribute, t(el.dataset[data]));
  }
}
