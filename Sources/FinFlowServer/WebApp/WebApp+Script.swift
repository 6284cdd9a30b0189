extension WebApp {
    static let script = #"""
"use strict";
// FinFlow's web app: plain JavaScript against the same API every client uses, with the user's bearer token.
const state = { access: sessionStorage.getItem("finflow.access"), refresh: sessionStorage.getItem("finflow.refresh"), mfaToken: null,
                feed: null, lastEventId: null };
const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
  if (state.access) headers["Authorization"] = "Bearer " + state.access;
  if (options.body) headers["Content-Type"] = "application/json";
  let response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401 && state.refresh && !options.retried) {
    if (await refresh()) return api(path, Object.assign({}, options, { retried: true }));
  }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw Object.assign(new Error(body.detail || response.statusText), { status: response.status, body });
  return body;
}

async function refresh() {
  try {
    const response = await fetch("/v1/auth/token/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
                                                             body: JSON.stringify({ refreshToken: state.refresh }) });
    if (!response.ok) return false;
    keep(await response.json());
    return true;
  } catch { return false; }
}

function keep(tokens) {
  state.access = tokens.accessToken;
  state.refresh = tokens.refreshToken;
  sessionStorage.setItem("finflow.access", state.access);
  sessionStorage.setItem("finflow.refresh", state.refresh);
}

function money(minor, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  return new Intl.NumberFormat("en", { style: "currency", currency }).format(minor / Math.pow(10, digits));
}

function show(signedIn) {
  $("sign-in").hidden = signedIn;
  $("nav").hidden = !signedIn;
  for (const id of ["dashboard", "statements", "live"]) $(id).hidden = !signedIn;
}

async function signIn(event) {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    let result;
    if (state.mfaToken) {
      result = { status: "authenticated", tokens: await api("/v1/auth/login/mfa", { method: "POST",
                 body: JSON.stringify({ mfaToken: state.mfaToken, code: $("code").value }) }) };
    } else {
      result = await api("/v1/auth/login", { method: "POST", body: JSON.stringify({ email: $("email").value, password: $("password").value }) });
    }
    if (result.status === "mfa_required") {
      state.mfaToken = result.mfaToken;
      $("code-label").hidden = false;
      $("sign-in-error").textContent = "Enter the code from your authenticator.";
      return;
    }
    keep(result.tokens);
    state.mfaToken = null;
    await start();
  } catch (error) {
    $("sign-in-error").textContent = error.message || "Sign-in failed";
  }
}

function signOut() {
  sessionStorage.clear();
  state.access = state.refresh = null;
  if (state.feed) state.feed.abort();
  show(false);
}

const tiles = [
  ["revenueMinor", "Revenue", "money"], ["grossMarginPercent", "Gross margin", "percent"], ["netIncomeMinor", "Net income", "money"],
  ["cashMinor", "Cash", "money"], ["burnRateMonthlyMinor", "Burn a month", "money"], ["runwayMonths", "Runway (months)", "number"],
  ["daysSalesOutstanding", "Days sales outstanding", "number"], ["currentRatio", "Current ratio", "number"],
  ["transactionCount", "Transactions", "number"], ["activeUsers", "Active users", "number"],
];

function format(value, kind, currency) {
  if (value === undefined || value === null) return "–";
  if (kind === "money") return money(value, currency);
  if (kind === "percent") return value.toFixed(1) + " %";
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

async function dashboard() {
  const data = await api("/v1/analytics/dashboard");
  state.currency = data.currency;
  $("range").textContent = data.kpis.from + " – " + data.kpis.to + " (" + data.currency + ")";
  const kpis = $("kpis");
  kpis.replaceChildren();
  for (const [key, label, kind] of tiles) {
    const now = data.kpis[key], before = data.previous[key];
    const change = typeof now === "number" && typeof before === "number" && before !== 0
      ? ((now - before) / Math.abs(before) * 100).toFixed(1) + " % on the period before" : "";
    kpis.append(element("div", { class: "tile", "data-testid": "kpi-" + key },
      element("div", { class: "label" }, label), element("div", { class: "value" }, format(now, kind, data.currency)),
      element("div", { class: "change" }, change)));
  }
  $("flow-chart").replaceChildren(bars(data.series, data.currency));
  $("cash-chart").replaceChildren(line(data.series.map((p) => [p.from, p.cashMinor])));
  $("customers").replaceChildren(...data.topCustomers.items.map((i) => element("li", {}, i.key + ": " + money(i.amountMinor, data.currency))));
  $("categories").replaceChildren(...data.categories.items.map((i) => element("li", {}, i.key + ": " + money(i.amountMinor, data.currency))));
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attributes) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

function bars(series, currency) {
  const chart = svg("svg", { viewBox: "0 0 600 220", preserveAspectRatio: "none", role: "img", "aria-label": "Revenue and expenses per period" });
  const expenses = (p) => p.costOfSalesMinor + p.operatingExpensesMinor;
  const top = Math.max(1, ...series.map((p) => Math.max(p.revenueMinor, expenses(p))));
  const width = 600 / Math.max(1, series.length);
  series.forEach((p, i) => {
    for (const [offset, value, color] of [[0.1, p.revenueMinor, "#2f6fdd"], [0.5, expenses(p), "#c2410c"]]) {
      const height = Math.max(0, value) / top * 190;
      const bar = svg("rect", { x: i * width + offset * width, y: 200 - height, width: width * 0.38, height, fill: color });
      bar.append(svg("title", {}));
      bar.firstChild.textContent = p.from + ": " + money(value, currency);
      chart.append(bar);
    }
  });
  return chart;
}

function line(points) {
  const chart = svg("svg", { viewBox: "0 0 600 220", preserveAspectRatio: "none", role: "img", "aria-label": "Cash at the end of each period" });
  const values = points.map((p) => p[1]);
  const low = Math.min(0, ...values), high = Math.max(1, ...values);
  const x = (i) => points.length < 2 ? 300 : i / (points.length - 1) * 580 + 10;
  const y = (v) => 210 - (v - low) / (high - low) * 190;
  chart.append(svg("polyline", { points: points.map((p, i) => x(i) + "," + y(p[1])).join(" "), fill: "none", stroke: "#15803d", "stroke-width": 2 }));
  return chart;
}

function statementRows(table, report, currency) {
  table.replaceChildren();
  for (const section of report.sections || []) {
    for (const item of section.items || []) {
      table.append(element("tr", {}, element("td", {}, (item.code ? item.code + " " : "") + item.name),
                                      element("td", { class: "amount" }, money(item.amount, currency))));
    }
    table.append(element("tr", { class: "total", "data-testid": "total-" + section.name },
      element("td", {}, "Total " + section.name), element("td", { class: "amount" }, money(section.total, currency))));
  }
}

async function statements() {
  const today = new Date().toISOString().slice(0, 10);
  const from = today.slice(0, 4) + "-01-01";
  const income = await api("/v1/accounting/statements/income-statement?from=" + from + "&to=" + today);
  const sheet = await api("/v1/accounting/statements/balance-sheet?asOf=" + today);
  $("income-range").textContent = from + " – " + today;
  $("balance-date").textContent = today;
  // The tenant's base currency (the dashboard's), else the first the statement reports.
  const first = (report) => (report.currencies || []).find((c) => c.currency === state.currency) || (report.currencies || [])[0]
    || { sections: [], currency: state.currency || "USD" };
  statementRows($("income"), first(income), first(income).currency);
  statementRows($("balance"), first(sheet), first(sheet).currency);
}

function addAnomaly(anomaly) {
  const reason = (anomaly.reasons[0] || {}).detail || "unusual movement";
  const item = element("li", { "data-testid": "anomaly", "data-sequence": anomaly.sequence },
    element("span", { class: "score" }, "score " + anomaly.score.toFixed(2)), " · ",
    money(anomaly.amountMinor, anomaly.currency), " · ", anomaly.subjectType + " " + anomaly.subjectId, element("br"), reason);
  $("anomalies").prepend(item);
}

// The live feed over a WebSocket. A browser cannot set headers on one, so the token travels as a sub-protocol beside
// "finflow.v1"; a connection that ends resumes after the last anomaly shown.
function follow() {
  let stopped = false, socket = null;
  state.feed = { abort() { stopped = true; if (socket) socket.close(); } };
  const connect = () => {
    if (stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const after = state.lastEventId ? "?after=" + encodeURIComponent(state.lastEventId) : "";
    socket = new WebSocket(scheme + "//" + location.host + "/v1/realtime/anomalies/ws" + after, ["finflow.v1", "bearer." + state.access]);
    let opened = false;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "opened") { opened = true; $("feed-status").textContent = "live"; }
      else if (message.type === "anomaly") { state.lastEventId = String(message.id); addAnomaly(message.anomaly); }
    };
    socket.onclose = async () => {
      if (stopped) return;
      $("feed-status").textContent = "reconnecting";
      if (!opened) {
        // Refused before it opened: the same path over plain HTTP says why (401 when the token has expired).
        const probe = await fetch("/v1/realtime/anomalies/ws", { headers: { "Authorization": "Bearer " + state.access } }).catch(() => null);
        if (probe && probe.status === 401 && !(await refresh())) { signOut(); return; }
      }
      setTimeout(connect, 2000);
    };
  };
  connect();
}

async function start() {
  show(true);
  follow();
  const results = await Promise.allSettled([dashboard().then(statements)]);
  for (const result of results) if (result.status === "rejected") console.warn(result.reason);
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  if (state.access) start(); else show(false);
});
"""#
}
