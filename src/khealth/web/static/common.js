// Shared by the EMS console and the ER board: the page configuration, the bearer token kept in
// sessionStorage (pasted once; the trust layer's sign-in replaces this), JSON calls to the API
// with the token in the Authorization header, and a DOM builder that only ever sets text
// (no innerHTML: nothing from the API is parsed as markup).

export const config = JSON.parse(document.getElementById("page-config").textContent);
export const t = (key) => config.text[key] ?? key;

const TOKEN_KEY = "khealth.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

function problemText(status, problem) {
  if (!problem || typeof problem !== "object") return `${t("error")} ${status}`;
  const fields = (problem.errors || []).map((e) => e.pointer || e.detail).filter(Boolean);
  const detail = problem.detail || problem.title || `${t("error")} ${status}`;
  return fields.length ? `${detail} (${fields.join(", ")})` : detail;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

let onUnauthorised = () => {};

export async function api(method, path, body, accept = "application/json") {
  const headers = { Authorization: `Bearer ${token()}`, Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.status === 401) onUnauthorised();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// el("li", {class: "x", dataset: {id: "1"}, onclick: f}, "text", child, ...)
export function el(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "circle", "text", "line", "path", "polygon", "title"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

export function flagClass(value) {
  return value === "Y" ? "Y" : value === "N" ? "N" : "unknown";
}

export function flagText(value) {
  return t(`flag_${value === "Y" || value === "N" ? value : "null"}`);
}

// Show the sign-in form until a token works, then call start(); a 401 later brings it back.
export function signIn(check, start) {
  const panel = document.getElementById("signin");
  const app = document.getElementById("app");
  const signOut = document.getElementById("sign-out");
  const form = document.getElementById("signin-form");
  const error = document.getElementById("signin-error");
  let started = false;
  const ask = (message) => {
    sessionStorage.removeItem(TOKEN_KEY);
    panel.hidden = false;
    app.hidden = true;
    signOut.hidden = true;
    error.textContent = message || "";
  };
  const ready = async () => {
    try {
      await check();
    } catch (failure) {
      ask(failure instanceof ApiError && failure.status === 401 ? t("bad_token") : failure.message);
      return;
    }
    panel.hidden = true;
    app.hidden = false;
    signOut.hidden = false;
    if (!started) { started = true; start(); }
  };
  onUnauthorised = () => ask(t("bad_token"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = form.elements.token.value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    form.reset();
    ready();
  });
  signOut.addEventListener("click", () => { ask(""); location.reload(); });
  if (token()) ready(); else ask("");
}
