// The EMS console: the crew's assessment -> ranked hospitals on the city map with their live
// status -> the crew chooses -> the pre-notification's state, live (polled every 1.5 s): a
// decline shows its reason and brings the next recommendation at once.
import { api, config, el, flagClass, flagText, signIn, t, toast } from "./common.js";
import { CityMap } from "./citymap.js";

const form = document.getElementById("assessment");
const NUMBERS = ["age", "respiratory_rate", "spo2", "systolic_bp", "diastolic_bp", "heart_rate",
  "temperature", "glucose", "gcs", "pain", "lams", "race_scale", "burns_tbsa", "fall_height_m",
  "gestation_weeks"];
const FLAGS = ["stemi_ecg", "cardiac_arrest", "stroke_signs", "trauma", "suspected_infection",
  "pregnant", "labour", "anticoagulated"];
const POLL_MS = 1500;
const ACCEPTANCE = new Map(config.acceptance);
const STATUS_REFRESH_MS = 15000;

const state = {
  facilities: new Map(), ranking: null, assessment: null, location: null,
  incidentId: null, notification: null, refused: [], poll: null, since: 0,
};
const map = new CityMap(document.getElementById("city-map"), (pos) => setLocation(pos.lat, pos.lon));
const $ = (id) => document.getElementById(id);

function setLocation(lat, lon) {
  form.elements.lat.value = lat.toFixed(6);
  form.elements.lon.value = lon.toFixed(6);
  map.setAmbulance(lat, lon);
}

function collect() {
  const a = {};
  for (const name of NUMBERS) {
    const value = form.elements[name].value.trim();
    if (value !== "") a[name] = Number(value);
  }
  const complaint = form.elements.chief_complaint.value.trim();
  if (complaint) a.chief_complaint = complaint;
  for (const name of ["sex", "consciousness"]) {
    if (form.elements[name].value) a[name] = form.elements[name].value;
  }
  if (a.spo2 !== undefined) a.on_oxygen = form.elements.on_oxygen.checked;
  for (const name of FLAGS) if (form.elements[name].checked) a[name] = true;
  for (const name of ["trauma_mechanisms", "injury_patterns"]) {
    const checked = [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
    if (checked.length) { a[name] = checked; a.trauma = true; }
  }
  if (form.elements.onset.value) a.onset = new Date(form.elements.onset.value).toISOString();
  return a;
}

function location_() {
  return { lat: Number(form.elements.lat.value), lon: Number(form.elements.lon.value) };
}

async function loadFacilities() {
  const data = await api("GET", "/api/emergency/facilities");
  state.facilities = new Map(data.facilities.map((f) => [f.facility_id, f]));
  map.setFacilities(data.facilities);
  if (state.ranking) renderRanking();
}

async function recommend(assessment, location) {
  const body = { assessment, location, top: 5 };
  if (state.incidentId) body.incident_id = state.incidentId;
  $("recommend").disabled = true;
  $("form-error").textContent = "";
  try {
    const data = await api("POST", "/api/emergency/recommendations", body);
    state.assessment = assessment;
    state.location = location;
    state.ranking = data;
    map.setAmbulance(location.lat, location.lon);
    map.setRanked(data.recommendations);
    renderTriage(data.triage);
    renderWarnings(data.warnings);
    renderRanking();
    if (matchMedia("(max-width: 899px)").matches) $("results-title").scrollIntoView({ behavior: "smooth" });
  } catch (failure) {
    $("form-error").textContent = failure.message;
  } finally {
    $("recommend").disabled = false;
  }
}

function ktasBadge(level) {
  return el("span", { class: `ktas ktas-${level}`, dataset: { ktas: level } }, `${t("ktas")} ${level} · ${config.ktas[level]}`);
}

function renderTriage(triage) {
  const box = $("triage");
  box.replaceChildren(ktasBadge(triage.ktas_level));
  const chip = (text) => el("span", { class: "chip" }, text);
  box.append(chip(`${t("pathway")}: ${triage.pathway ? config.pathways[triage.pathway] : t("none")}`));
  if (triage.news2) box.append(chip(`${t("news2")} ${triage.news2.score} (${triage.news2.band})`));
  if (triage.qsofa !== null) box.append(chip(`${t("qsofa")} ${triage.qsofa}`));
  if (triage.shock_index !== null) box.append(chip(`${t("shock_index")} ${triage.shock_index}`));
  if (triage.time_window_minutes !== null) box.append(chip(`${t("window")} ${triage.time_window_minutes}${t("minutes")}`));
  if (triage.rules.length) {
    box.append(el("details", {}, el("summary", {}, `${t("rules")} (${triage.ruleset})`),
      el("ul", {}, triage.rules.map((r) => el("li", {}, config.lang === "ko" ? r.text_ko : r.text_en)))));
  }
}

function renderWarnings(warnings) {
  $("warnings").replaceChildren(...warnings.map((w) => el("li", { dataset: { code: w.code } }, config.lang === "ko" ? w.ko : w.en)));
}

// The live flags that matter for this patient: the pathway's acceptance items and equipment,
// and the ER gatekeeper (MKioskTy28).
function relevantFlags(status) {
  const needs = state.ranking ? state.ranking.triage.needs : [];
  const acceptance = new Set([config.gatekeeper]);
  const equipment = new Set();
  for (const need of needs) {
    for (const n of config.needs[need]?.acceptance || []) acceptance.add(n);
    for (const e of config.needs[need]?.equipment || []) equipment.add(e);
  }
  const flags = [...acceptance].map((n) => [ACCEPTANCE.get(n), status ? status[`MKioskTy${n}`] : null]);
  for (const e of equipment) flags.push([config.equipment[e], status ? status[e] : null]);
  return flags.map(([label, value]) => el("span", { class: `flag ${flagClass(value)}` }, `${label}: ${flagText(value)}`));
}

function statusLine(rec) {
  const live = state.facilities.get(rec.facility_id)?.status || null;
  const beds = live ? live.hvec : rec.er_beds;
  let freshness = t("no_status");
  if (live) freshness = `${live.stale ? t("stale") : t("fresh")} · ${live.age_minutes}${t("ago")}`;
  return el("div", { class: "live-status" },
    el("div", { class: "numbers" },
      el("span", {}, `${t("beds")} `, el("b", { class: "beds" }, beds ?? "?")),
      el("span", { class: "muted" }, freshness),
      rec.recent_declines ? el("span", { class: "muted" }, `${t("declines")} ${rec.recent_declines}`) : null),
    el("div", { class: "flags" }, relevantFlags(live)));
}

function renderRanking() {
  const busy = state.notification && ["pending", "accepted"].includes(state.notification.state);
  const items = state.ranking.recommendations.map((rec, i) => {
    const fallback = !(rec.meets_need && rec.within_window);
    const chosen = state.notification && state.notification.facility_id === rec.facility_id;
    return el("li", { class: chosen ? "chosen" : "", dataset: { facilityId: rec.facility_id } },
      el("h3", {}, el("span", { class: `rank${fallback ? " fallback" : ""}` }, i + 1),
        el("span", { class: "name" }, rec.name),
        el("span", { class: "muted" }, state.facilities.get(rec.facility_id)?.tier_ko || rec.tier)),
      el("div", { class: "numbers" },
        el("span", {}, `${t("eta")} `, el("b", { class: "eta" }, rec.eta_minutes), ` ${t("minutes")}`),
        el("span", {}, `${t("definitive")} `, el("b", {}, rec.definitive_minutes), ` ${t("minutes")}`),
        el("span", { class: "muted" }, rec.meets_need ? t("meets") : t("not_meets"))),
      el("p", { class: "explain" }, config.lang === "ko" ? rec.explanation : rec.explanation_en),
      el("div", {}, rec.capabilities.map((c) => el("span", { class: "chip" }, config.capabilities[c] || c))),
      statusLine(rec),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "primary big choose", disabled: busy, onclick: () => choose(rec) }, t("choose"))));
  });
  $("ranked").replaceChildren(...items);
}

async function choose(rec) {
  const body = { assessment: state.assessment, location: state.location, facility_id: rec.facility_id };
  if (state.incidentId) body.incident_id = state.incidentId;
  try {
    const data = await api("POST", "/api/emergency/notifications", body);
    state.notification = data.notification;
    state.incidentId = data.notification.incident_id;
    state.since = Date.now();
    map.setChosen(rec.facility_id);
    renderNotice(rec.name);
    renderRanking();
    startPolling(rec.name);
  } catch (failure) {
    toast(failure.message);
  }
}

function startPolling(name) {
  clearInterval(state.poll);
  state.poll = setInterval(() => poll(name), POLL_MS);
}

async function poll(name) {
  const current = state.notification;
  if (!current) return;
  let fresh;
  try {
    fresh = (await api("GET", `/api/emergency/notifications/${encodeURIComponent(current.id)}`)).notification;
  } catch {
    return; // a dropped request in a moving ambulance: the next poll tries again
  }
  if (fresh.state === current.state) { renderNotice(name); return; }
  state.notification = fresh;
  if (fresh.state === "declined") {
    clearInterval(state.poll);
    state.refused.push(fresh.facility_id);
    map.setRefused(state.refused);
    map.setChosen(null);
    renderNotice(name, await declineReason(fresh));
    await recommend(state.assessment, state.location);
  } else {
    if (!["pending"].includes(fresh.state)) clearInterval(state.poll);
    renderNotice(name);
    renderRanking();
  }
}

// The reason is written on the pre-notification's ServiceRequest (the FHIR record of it).
async function declineReason(notification) {
  try {
    const request = await api("GET", `/fhir/${notification.service_request}`, undefined, "application/fhir+json");
    const notes = request.note || [];
    return notes.length ? notes[notes.length - 1].text : "";
  } catch {
    return "";
  }
}

function renderNotice(name, reason) {
  const n = state.notification;
  const box = $("notice");
  if (!n) { box.hidden = true; return; }
  box.hidden = false;
  box.className = `notice ${n.state}`;
  box.dataset.state = n.state;
  const seconds = Math.round((Date.now() - state.since) / 1000);
  const lines = [el("div", { class: "notice-state" }, `${name} ${t("to")} ${t(n.state)}`, n.state === "pending" ? ` · ${seconds}s` : "")];
  if (n.state === "declined") {
    if (reason) lines.push(el("p", { class: "reason" }, reason));
    lines.push(el("p", {}, t("declined_next")));
  }
  if (n.state === "pending") {
    lines.push(el("button", { type: "button", class: "danger", onclick: cancel }, t("cancel")));
  }
  const changed = box.dataset.shown !== n.state;
  box.dataset.shown = n.state;
  box.replaceChildren(...lines);
  if (changed) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function cancel() {
  const n = state.notification;
  try {
    state.notification = (await api("POST", `/api/emergency/notifications/${encodeURIComponent(n.id)}/cancel`)).notification;
    clearInterval(state.poll);
    map.setChosen(null);
    renderNotice("");
    renderRanking();
  } catch (failure) {
    toast(failure.message);
  }
}

function newPatient() {
  clearInterval(state.poll);
  Object.assign(state, { ranking: null, assessment: null, incidentId: null, notification: null, refused: [] });
  form.reset();
  for (const id of ["triage", "warnings", "ranked"]) $(id).replaceChildren();
  $("notice").hidden = true;
  map.setRanked([]);
  map.setRefused([]);
  map.setChosen(null);
  setLocation(Number(form.elements.lat.value), Number(form.elements.lon.value));
}

function start() {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    recommend(collect(), location_());
  });
  $("new-patient").addEventListener("click", newPatient);
  $("gps").addEventListener("click", () => navigator.geolocation?.getCurrentPosition(
    (p) => setLocation(p.coords.latitude, p.coords.longitude), () => toast("GPS ✕")));
  for (const name of ["lat", "lon"]) form.elements[name].addEventListener("change", () => setLocation(Number(form.elements.lat.value), Number(form.elements.lon.value)));
  setLocation(Number(form.elements.lat.value), Number(form.elements.lon.value));
  setInterval(() => loadFacilities().catch(() => {}), STATUS_REFRESH_MS);
}

signIn(loadFacilities, start);
