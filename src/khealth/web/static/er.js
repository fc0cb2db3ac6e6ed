// The ER board: incoming patients, live over server-sent events. EventSource cannot send the
// Authorization header and the bearer token must not go in a URL, so each connection first
// asks (with the token) for a one-use, 60-second stream ticket for this facility and opens
// the stream with it; when the stream drops or ends, a new ticket is asked for.
import { api, config, el, flagText, signIn, t, toast } from "./common.js";

const facility = config.facility_id;
const base = `/api/emergency/facilities/${encodeURIComponent(facility)}`;
const SEQ_KEY = `khealth.er.seq.${facility}`;
const KINDS = ["notified", "accepted", "declined", "arrived", "in-progress", "cancelled", "reverted"];
const META = ["facility_id", "recorded", "stale", "age_minutes", "hvidate"];
const $ = (id) => document.getElementById(id);
const state = { lastSeq: Number(sessionStorage.getItem(SEQ_KEY) || 0), source: null, backoff: 1000, refresh: null, snapshot: {} };

function setLive(on) {
  const badge = $("live");
  badge.className = `live ${on ? "on" : "off"}`;
  badge.textContent = on ? badge.dataset.on : badge.dataset.off;
  badge.dataset.state = on ? "on" : "off";
}

async function connect() {
  try {
    const { events_url: url } = await api("POST", `${base}/events/ticket`);
    const source = new EventSource(`${url}&after=${state.lastSeq}`);
    state.source = source;
    source.onopen = () => { setLive(true); state.backoff = 1000; scheduleRefresh(); };
    for (const kind of KINDS) source.addEventListener(kind, onEvent);
    source.onerror = () => { source.close(); setLive(false); retry(); };
  } catch (failure) {
    setLive(false);
    if (failure.status !== 401 && failure.status !== 403) retry();
  }
}

function retry() {
  setTimeout(connect, state.backoff);
  state.backoff = Math.min(state.backoff * 2, 15000);
}

function onEvent(event) {
  state.lastSeq = Math.max(state.lastSeq, Number(event.lastEventId) || 0);
  sessionStorage.setItem(SEQ_KEY, String(state.lastSeq));
  scheduleRefresh();
}

// Events carry no clinical content: each one (or a burst of them) re-reads /incoming.
function scheduleRefresh() {
  clearTimeout(state.refresh);
  state.refresh = setTimeout(() => refreshIncoming().catch((f) => toast(f.message)), 150);
}

async function refreshIncoming() {
  const data = await api("GET", `${base}/incoming`);
  $("incoming").replaceChildren(...data.incoming.map(card));
  $("no-incoming").hidden = data.incoming.length > 0;
  tick();
}

function noteParts(request) {
  const first = (request.note || [])[0];
  return first ? first.text.split(" / ").filter((p) => !p.startsWith("Pre-KTAS")) : [];
}

function card(item) {
  const request = item.service_request_resource;
  const level = item.ktas_level;
  const answer = el("div", { class: "answer" });
  if (item.state === "pending") {
    const reasons = el("select", { name: "reason", class: "reason" },
      el("option", { value: "" }, t("choose_reason")),
      config.decline_reasons.map(([code, label]) => el("option", { value: code }, label)));
    answer.append(
      el("button", { type: "button", class: "primary big accept", onclick: () => answerIt(item, "accept") }, t("accept")),
      el("label", {}, t("reason"), reasons),
      el("button", { type: "button", class: "danger decline", onclick: () => decline(item, reasons.value) }, t("decline")));
  } else if (item.state === "accepted") {
    answer.append(el("button", { type: "button", class: "secondary arrive", onclick: () => answerIt(item, "arrive") }, t("arrive")));
  }
  return el("li", { class: `ktas-border-${level}`, dataset: { notificationId: item.id, state: item.state } },
    el("div", { class: "head" },
      el("span", { class: `ktas ktas-${level}` }, `${t("ktas")} ${level} · ${config.ktas[level] || ""}`),
      el("span", { class: "chip pathway" }, item.pathway ? config.pathways[item.pathway] : t("none")),
      el("span", { class: `state ${item.state}` }, t(item.state)),
      el("span", { class: "countdown", dataset: { eta: request.occurrenceDateTime || "" } }, "")),
    el("div", { class: "muted" }, `${t("eta")} ${item.eta_minutes}${t("minutes")}`),
    el("ul", { class: "vitals" }, noteParts(request).map((p) => el("li", {}, p))),
    answer);
}

function decline(item, reason) {
  if (!reason) { toast(t("reason_needed")); return; }
  answerIt(item, "decline", { reason });
}

async function answerIt(item, action, body) {
  try {
    await api("POST", `/api/emergency/notifications/${encodeURIComponent(item.id)}/${action}`, body);
    await refreshIncoming();
  } catch (failure) {
    toast(failure.message);
  }
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll(".countdown[data-eta]")) {
    const eta = Date.parse(node.dataset.eta);
    if (Number.isNaN(eta)) continue;
    const left = Math.round((eta - now) / 1000);
    node.textContent = left <= 0 ? t("countdown_late")
      : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }
}

// -- the hospital's own status ------------------------------------------------------------------
function flagSelect(name, label) {
  return el("label", {}, label, el("select", { name },
    ["", "Y", "N"].map((v) => el("option", { value: v }, flagText(v || null)))));
}

function buildStatusForm() {
  $("status-beds").replaceChildren(...config.board_beds.map((name) =>
    el("label", { class: "num" }, config.beds[name], el("input", { name, type: "number", inputmode: "numeric", min: -999, max: 9999, step: 1 }))));
  $("status-equipment").replaceChildren(...config.board_equipment.map((name) => flagSelect(name, config.equipment[name])));
  $("status-acceptance").replaceChildren(...config.acceptance.map(([n, label]) => flagSelect(`MKioskTy${n}`, `${n}. ${label}`)));
}

function fillStatus(status) {
  state.snapshot = status && status.hvidate ? status : {};
  const form = $("status-form");
  for (const input of form.querySelectorAll("input, select")) {
    const value = state.snapshot[input.name];
    input.value = value === null || value === undefined ? "" : String(value);
  }
  $("status-age").textContent = state.snapshot.hvidate ? `${state.snapshot.age_minutes}${t("ago")}` : t("no_status");
}

async function saveStatus(event) {
  event.preventDefault();
  const body = Object.fromEntries(Object.entries(state.snapshot).filter(([k]) => !META.includes(k)));
  for (const input of $("status-form").querySelectorAll("input, select")) {
    const raw = input.value.trim();
    body[input.name] = raw === "" ? null : input.type === "number" ? Number(raw) : raw;
  }
  $("status-error").textContent = "";
  try {
    fillStatus(await api("PUT", `${base}/status`, body));
    toast(t("save_ok"));
  } catch (failure) {
    $("status-error").textContent = failure.message;
  }
}

async function start() {
  const listed = (await api("GET", "/api/emergency/facilities")).facilities.find((f) => f.facility_id === facility);
  if (!listed) { $("no-incoming").textContent = t("unknown_facility"); return; }
  $("facility-name").textContent = listed.name;
  document.title = `${listed.name} — ${document.title}`;
  buildStatusForm();
  $("status-form").addEventListener("submit", saveStatus);
  fillStatus((await api("GET", `${base}/status`)));
  await refreshIncoming().catch((f) => toast(f.message));
  connect();
  setInterval(tick, 1000);
}

signIn(() => api("GET", `${base}/status`), () => start().catch((f) => toast(f.message)));
