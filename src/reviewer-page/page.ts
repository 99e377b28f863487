/**
 * The reviewer page of issue #5 as one self-contained HTML document: every machine drawn
 * (svg.ts), a legend, the transitions with their guards, actions and requirement ids, an index
 * from requirement id to transitions, and a small form that watches one entity's live state
 * through the admin API and highlights it in the entity machine.
 *
 * Nothing is fetched from anywhere but the serving origin: the stylesheet and the script are
 * inline, and the Content-Security-Policy allows exactly those two by their SHA-256 hashes
 * (`connect-src 'self'` for the live state, nothing else). The SVGs use presentation attributes,
 * never `style=""`, so no inline style needs allowing. The admin token stays in the page's
 * memory: it is sent only as `Authorization: Bearer` to this origin and never stored.
 *
 * Pure and web-standard: the server handler (src/server/model-page.ts) serves what this returns.
 *
 * Implements: SPEC-MODEL-PAGE, PLAY-SIM-PAGE, PLAY-WATCH-URL, PLAY-REQ-CHIPS
 */
import { utf8 } from "../crypto/bytes.ts";
import { hashBytes } from "../crypto/hash.ts";
import type { MachineDescription, ModelDescription, TransitionDescription } from "./describe.ts";
import { PLAY_SCRIPT, PLAY_STYLE, playgroundSection } from "./playground.ts";
import { REQUIREMENT_INDEX } from "./requirement-index.ts";
import { domId, escapeXml, FONT_FAMILY, renderMachineSvg } from "./svg.ts";

/** Where the page reads an entity's live state (policy row `entities.state`). */
export const ENTITY_STATE_PATH = "/cpns/v1/admin/entities/";
/** Issue #13: where it reads an OTK's and a secure channel's (rows `otks.state`, `channels.state`). */
export const LIVE_STATE_PATHS = {
  entity: ENTITY_STATE_PATH,
  otk: "/cpns/v1/admin/otks/",
  channel: "/cpns/v1/admin/channels/",
} as const;
/** The sessionStorage key of the admin token, kept only when the reviewer ticks the box. */
export const TOKEN_STORAGE_KEY = "cpns.model.adminToken";
/** How often the page asks for the live state, in milliseconds. */
export const REFRESH_MS = 2000;

/** Where the page's icon is served (policy row `model.icon`), so the browser asks for no other. */
export const ICON_PATH = "/model/icon.svg";

/** The page's icon: two states and a transition. */
export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0f172a"/><rect x="3" y="11" width="10" height="10" rx="3" fill="none" stroke="#93c5fd" stroke-width="2"/><rect x="19" y="11" width="10" height="10" rx="3" fill="#ea580c" stroke="#fdba74" stroke-width="2"/><path d="M 13 16 L 18 16" stroke="#f8fafc" stroke-width="2"/><path d="M 16 13 L 19 16 L 16 19" fill="none" stroke="#f8fafc" stroke-width="2"/></svg>
`;

export interface ModelPage {
  html: string;
  /** The Content-Security-Policy header value that goes with `html`. */
  csp: string;
}

const STYLE = `
:root { color-scheme: light; --ink: #0f172a; --muted: #475569; --line: #e2e8f0; --hot: #ea580c;
  --hot-bg: #fff7ed; --accent: #1d4ed8; --guard: #7c3aed; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #f1f5f9; }
header { background: #0f172a; color: #f8fafc; padding: 20px 32px 16px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #cbd5e1; max-width: 980px; }
header nav { margin-top: 10px; display: flex; gap: 18px; flex-wrap: wrap; }
header nav a { color: #93c5fd; }
main { padding: 20px 32px 40px; display: grid; gap: 20px; grid-template-columns: minmax(0, 1fr); }
section.panel { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; }
h2 { margin: 0 0 8px; font-size: 18px; }
h2 > code { font-size: 18px; }
h2 small { font-weight: normal; color: var(--muted); font-size: 14px; margin-left: 8px; }
code, .mono { font-family: ${FONT_FAMILY}; font-size: 13px; }
.muted { color: var(--muted); }
a { color: var(--accent); }
form#live-form { display: flex; gap: 12px; flex-wrap: wrap; align-items: end; }
form#live-form label { display: grid; gap: 2px; font-size: 13px; color: var(--muted); }
form#live-form input { font: inherit; padding: 6px 8px; border: 1px solid #cbd5e1; border-radius: 6px;
  min-width: 260px; color: var(--ink); }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid #1e40af;
  background: #1d4ed8; color: #fff; cursor: pointer; }
button[disabled] { background: #e2e8f0; color: #94a3b8; border-color: #cbd5e1; cursor: default; }
#live-status { margin: 10px 0 0; padding: 6px 10px; border-radius: 6px; background: #f8fafc;
  border: 1px solid var(--line); }
#live-status[data-kind="ok"] { background: var(--hot-bg); border-color: #fdba74; }
#live-status[data-kind="error"] { background: #fef2f2; border-color: #fca5a5; color: #991b1b; }
.legend { display: flex; gap: 28px; flex-wrap: wrap; align-items: center; }
.legend figure { margin: 0; display: flex; gap: 8px; align-items: center; font-size: 13px; }
.diagram { overflow-x: auto; padding: 8px 0; }
.diagram svg { display: block; max-width: 100%; height: auto; }
svg .transition a { cursor: pointer; }
svg .transition:hover .edge { stroke: var(--accent); stroke-width: 2.5; }
svg .transition:hover .label-bg { stroke: var(--accent); }
svg .transition.untraced .label-bg { stroke-dasharray: 3 2; stroke: #94a3b8; }
svg .state .box { transition: fill .2s, stroke .2s; }
svg .state.live .box { fill: var(--hot-bg); stroke: var(--hot); stroke-width: 3; }
svg .state.live .inner { stroke: var(--hot); }
svg .state.live .name { fill: #9a3412; }
svg .transition.enabled .edge { stroke: var(--hot); stroke-width: 2; }
svg .transition.enabled .label-bg { stroke: #fdba74; fill: var(--hot-bg); }
table { border-collapse: collapse; width: 100%; margin-top: 10px; font-size: 14px; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td .guard { color: var(--guard); }
tr:target { background: #fef9c3; }
tr.live-row { background: var(--hot-bg); }
.req { display: inline-block; margin: 0 6px 2px 0; padding: 0 6px; border-radius: 4px;
  background: #eff6ff; border: 1px solid #bfdbfe; text-decoration: none; white-space: nowrap; }
.none { color: #94a3b8; font-style: italic; }
details summary { cursor: pointer; color: var(--muted); margin-top: 8px; }
dl.requirements { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.requirements dt { font-family: ${FONT_FAMILY}; font-size: 13px; }
dl.requirements dt:target { background: #fef9c3; }
dl.requirements dd { margin: 0; }
footer { padding: 0 32px 24px; color: var(--muted); font-size: 13px; }
`;

/**
 * The page's only script: watch an entity's live state. Plain ES2020 in a string (not a
 * transpiled function), so what the browser runs is byte for byte what the CSP hash covers.
 */
const SCRIPT = `
(() => {
  "use strict";
  const ENDPOINTS = ${JSON.stringify(LIVE_STATE_PATHS)};
  const TOKEN_KEY = ${JSON.stringify(TOKEN_STORAGE_KEY)};
  const REFRESH_MS = ${REFRESH_MS};
  const form = document.getElementById("live-form");
  const kindSelect = document.getElementById("live-kind");
  const keepBox = document.getElementById("live-keep");
  const tokenInput = document.getElementById("live-token");
  const entityInput = document.getElementById("live-entity");
  const stopButton = document.getElementById("live-stop");
  const status = document.getElementById("live-status");
  let timer = undefined;
  let generation = 0;

  function show(kind, text) {
    status.dataset.kind = kind;
    status.textContent = text;
  }

  function clear() {
    for (const el of document.querySelectorAll(".live, .enabled, .live-row")) {
      el.classList.remove("live", "enabled", "live-row");
    }
    delete status.dataset.state;
  }

  /** "active" -> ["entity.active"]; { a: "b" } -> ["entity.a", "entity.a.b"]. */
  function statePaths(prefix, value) {
    if (typeof value === "string") return [prefix + "." + value];
    const out = [];
    for (const [key, inner] of Object.entries(value || {})) {
      out.push(prefix + "." + key, ...statePaths(prefix + "." + key, inner));
    }
    return out;
  }

  function highlight(machine, ids) {
    clear();
    const svg = document.querySelector('svg[data-machine="' + CSS.escape(machine) + '"]');
    if (!svg) return;
    for (const id of ids) {
      const state = svg.querySelector('[data-state="' + CSS.escape(id) + '"]');
      if (state) state.classList.add("live");
      for (const t of svg.querySelectorAll('[data-source="' + CSS.escape(id) + '"]')) {
        t.classList.add("enabled");
        const row = document.getElementById("row-" + t.id.replace(/^transition-/, ""));
        if (row) row.classList.add("live-row");
      }
    }
    status.dataset.state = ids[ids.length - 1] || "";
  }

  let scrolled = false;
  async function poll(token, kind, entityId, gen) {
    let again = true;
    try {
      const res = await fetch(ENDPOINTS[kind] + encodeURIComponent(entityId) + "/state", {
        headers: { authorization: "Bearer " + token, accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
      const body = await res.json().catch(() => ({}));
      if (gen !== generation) return;
      const time = new Date().toLocaleTimeString();
      if (res.ok) {
        const ids = statePaths(body.machine, body.value);
        highlight(body.machine, ids);
        if (!scrolled) {
          scrolled = true;
          const section = document.getElementById("machine-" + body.machine);
          if (section) section.scrollIntoView();
        }
        const c = body.context || {};
        if (kind !== "entity") {
          show("ok", kind + " " + entityId + " is in " + ids[ids.length - 1] + " \\u00b7 " +
            Object.entries(c).map(([k, v]) => k + " " + JSON.stringify(v)).join(", ") +
            " \\u00b7 checked " + time);
        } else show("ok", entityId + " is in " + ids[ids.length - 1] + " \\u00b7 key version " + c.keyVersion +
          " \\u00b7 owner " + (c.userId || "none") + " \\u00b7 type " + (c.entityType || "none") +
          " \\u00b7 checked " + time);
      } else if (res.status === 404 && kind !== "entity") {
        clear();
        show("ok", "no " + kind + " " + entityId + " known to this server \\u00b7 checked " + time);
      } else if (res.status === 404) {
        const svg = document.querySelector('svg[data-machine="entity"]');
        const initial = svg ? svg.dataset.initial : "";
        highlight("entity", initial ? [initial] : []);
        show("ok", entityId + " is not enrolled: " + (initial || "unknown") +
          " (the machine's initial state) \\u00b7 checked " + time);
      } else {
        clear();
        show("error", "HTTP " + res.status + ": " + (body.title || res.statusText) +
          (res.status === 401 || res.status === 403 ? " (stopped)" : ""));
        if (res.status === 401 || res.status === 403) again = false;
      }
    } catch (err) {
      if (gen !== generation) return;
      show("error", "request failed: " + (err && err.message ? err.message : String(err)));
    }
    if (again && gen === generation) timer = setTimeout(() => poll(token, kind, entityId, gen), REFRESH_MS);
    else if (gen === generation) stopButton.disabled = true;
  }

  function stop() {
    generation++;
    clearTimeout(timer);
    timer = undefined;
    stopButton.disabled = true;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    stop();
    const token = tokenInput.value.trim();
    const entityId = entityInput.value.trim();
    if (!token || !entityId) return;
    if (keepBox.checked) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    stopButton.disabled = false;
    scrolled = false;
    show("idle", "Asking for " + entityId + "\\u2026");
    poll(token, kindSelect.value, entityId, generation);
  });

  // Issue #13: /model?watch=otk:<id> (or entity:, channel:) opens on that live state. The
  // token is never in the URL: it comes from this tab's sessionStorage if kept, or is asked for.
  const watch = /^(entity|otk|channel):(.{1,200})$/.exec(new URLSearchParams(location.search).get("watch") || "");
  if (watch) {
    kindSelect.value = watch[1];
    entityInput.value = watch[2];
    const kept = sessionStorage.getItem(TOKEN_KEY);
    if (kept) {
      tokenInput.value = kept;
      keepBox.checked = true;
      form.requestSubmit();
    } else {
      show("idle", "Enter the admin token to watch " + watch[1] + " " + watch[2] + ".");
      tokenInput.focus();
    }
  }

  stopButton.addEventListener("click", () => {
    stop();
    clear();
    show("idle", "Stopped.");
  });
})();
`;

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** `'sha256-...'` of an inline element's text, as CSP Level 2 §4.2.4 computes it. */
export function cspHash(text: string): string {
  return `'sha256-${base64(hashBytes("SHA-256", utf8(text)))}'`;
}

/** Issue #13: a chip's tooltip is the requirement's statement (requirement-index.ts). */
const chipTitle = (id: string) =>
  Object.hasOwn(REQUIREMENT_INDEX, id)
    ? ` title="${escapeXml(`${id}: ${REQUIREMENT_INDEX[id]?.text ?? ""}`)}"`
    : "";

const requirementLinks = (ids: readonly string[]) =>
  ids.length === 0
    ? `<span class="none">none named</span>`
    : ids
        .map(
          (id) =>
            `<a class="req mono" href="#req-${domId(id)}"${chipTitle(id)}>${escapeXml(id)}</a>`,
        )
        .join("");

/** Options of the page: where repository paths link to (CPNS_SOURCE_URL); paths only when unset. */
export interface ModelPageOptions {
  sourceUrl?: string;
}

/** A repository path, linked under `sourceUrl` when it is an http(s) URL. */
function sourceLink(path: string, sourceUrl: string | undefined): string {
  if (!sourceUrl || !/^https?:\/\/[^\s"<>]+$/.test(sourceUrl)) {
    return `<code class="path">${escapeXml(path)}</code>`;
  }
  const href = `${sourceUrl.replace(/\/+$/, "")}/${path.split("/").map(encodeURIComponent).join("/")}`;
  return `<a class="path" href="${escapeXml(href)}"><code>${escapeXml(path)}</code></a>`;
}

/** The statement, the test files naming it and the files implementing it (issue #13). */
function requirementDetails(id: string, sourceUrl: string | undefined): string {
  if (!Object.hasOwn(REQUIREMENT_INDEX, id)) return "";
  const entry = REQUIREMENT_INDEX[id] as { text: string; tests: string[]; code: string[] };
  const list = (paths: string[]) =>
    paths.length === 0
      ? `<span class="none">none</span>`
      : paths.map((path) => sourceLink(path, sourceUrl)).join(", ");
  return `<p class="req-text">${escapeXml(entry.text)}</p><p class="req-links">Tests: ${list(entry.tests)}<br>Code: ${list(entry.code)}</p>`;
}

function transitionRow(t: TransitionDescription): string {
  const target = t.target ?? `${t.source} (stays)`;
  const cells = [
    `<code>${escapeXml(t.source)}</code>`,
    `<code>${escapeXml(t.event)}</code>`,
    t.guard === null ? "" : `<code class="guard">[${escapeXml(t.guard)}]</code>`,
    t.actions.map((a) => `<code>${escapeXml(a)}</code>`).join(", "),
    `<code>${escapeXml(target)}</code>${t.reenter ? ` <span class="muted">(re-entered)</span>` : ""}`,
    requirementLinks(t.requirements),
  ];
  return `<tr id="row-${domId(t.id)}" data-transition="${escapeXml(t.id)}">${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
}

function machineSection(machine: MachineDescription): string {
  const svg = renderMachineSvg(machine);
  const stateRows = machine.states
    .map(
      (s) =>
        `<tr><td><code>${escapeXml(s.id)}</code></td><td>${escapeXml(s.type)}${s.initial ? ", initial" : ""}</td><td>${escapeXml(s.description ?? "")}</td><td>${requirementLinks(s.requirements)}</td></tr>`,
    )
    .join("\n");
  return `<section class="panel machine" id="machine-${domId(machine.id)}">
<h2><code>${escapeXml(machine.id)}</code><small>${escapeXml(machine.title)}</small></h2>
<p class="muted">Defined in <code>${escapeXml(machine.source)}</code>. ${machine.states.length} states, ${machine.transitions.length} transitions. <a href="/model/xstate/${encodeURIComponent(machine.id)}">XState JSON</a> (opens in Stately's editor).${machine.requirements.length > 0 ? ` Requirements: ${requirementLinks(machine.requirements)}` : ""}</p>
<div class="diagram">
${svg}
</div>
<table class="transitions" aria-label="Transitions of ${escapeXml(machine.id)}">
<thead><tr><th>From</th><th>Event</th><th>Guard</th><th>Actions</th><th>To</th><th>Requirements</th></tr></thead>
<tbody>
${machine.transitions.map(transitionRow).join("\n")}
</tbody>
</table>
<details><summary>States</summary>
<table class="states" aria-label="States of ${escapeXml(machine.id)}">
<thead><tr><th>State</th><th>Type</th><th>Description</th><th>Requirements</th></tr></thead>
<tbody>
${stateRows}
</tbody>
</table>
</details>
</section>`;
}

/** Each requirement id named in the model, with the states and transitions that name it. */
function requirementIndex(model: ModelDescription, sourceUrl?: string): string {
  const index = new Map<string, string[]>();
  const add = (id: string, link: string) => index.set(id, [...(index.get(id) ?? []), link]);
  for (const machine of model.machines) {
    for (const s of machine.states) {
      for (const id of s.requirements) {
        add(id, `<a href="#state-${domId(s.id)}"><code>${escapeXml(s.id)}</code></a>`);
      }
    }
    for (const t of machine.transitions) {
      const text = `${t.source} \u2013${t.event}\u2192 ${t.target ?? t.source}`;
      for (const id of t.requirements) {
        add(id, `<a href="#row-${domId(t.id)}"><code>${escapeXml(text)}</code></a>`);
      }
    }
  }
  const ids = [...index.keys()].sort();
  if (ids.length === 0) return `<p class="none">No requirement ids are named in the machines.</p>`;
  return `<dl class="requirements">${ids
    .map(
      (id) =>
        `<dt id="req-${domId(id)}">${escapeXml(id)}</dt><dd data-requirement="${escapeXml(id)}">${(index.get(id) ?? []).join(", ")}${requirementDetails(id, sourceUrl)}</dd>`,
    )
    .join("\n")}</dl>`;
}

const LEGEND = `<div class="legend">
<figure><svg width="118" height="40" viewBox="0 0 118 40" aria-hidden="true"><rect class="box" x="2" y="4" width="112" height="32" rx="9" fill="#fff" stroke="#334155" stroke-width="1.5"/><text x="58" y="20" text-anchor="middle" dominant-baseline="central" font-size="13" font-weight="bold" font-family="${FONT_FAMILY}">state</text></svg><figcaption>a state (hover: description)</figcaption></figure>
<figure><svg width="118" height="40" viewBox="0 0 118 40" aria-hidden="true"><rect x="2" y="4" width="112" height="32" rx="9" fill="#fff" stroke="#334155" stroke-width="1.5"/><rect x="6" y="8" width="104" height="24" rx="6" fill="none" stroke="#334155" stroke-width="1.5"/><text x="58" y="20" text-anchor="middle" dominant-baseline="central" font-size="13" font-weight="bold" font-family="${FONT_FAMILY}">final</text></svg><figcaption>a final state</figcaption></figure>
<figure><svg width="46" height="20" viewBox="0 0 46 20" aria-hidden="true"><circle cx="7" cy="10" r="6" fill="#0f172a"/><path d="M 13 10 L 44 10" stroke="#0f172a" stroke-width="1.5"/></svg><figcaption>initial state</figcaption></figure>
<figure><svg width="190" height="24" viewBox="0 0 190 24" aria-hidden="true"><path d="M 2 20 L 188 20" stroke="#64748b" stroke-width="1.5"/><rect x="10" y="1" width="170" height="16" rx="4" fill="#f8fafc" stroke="#e2e8f0"/><text x="95" y="9" text-anchor="middle" dominant-baseline="central" font-size="12" font-family="${FONT_FAMILY}">EVENT <tspan fill="#7c3aed">[guard]</tspan></text></svg><figcaption>a transition: event and guard (hover: actions and requirement ids; click: its row)</figcaption></figure>
<figure><svg width="70" height="24" viewBox="0 0 70 24" aria-hidden="true"><rect x="2" y="4" width="66" height="16" rx="4" fill="#f8fafc" stroke="#94a3b8" stroke-dasharray="3 2"/></svg><figcaption>dashed label: no requirement id named</figcaption></figure>
<figure><svg width="118" height="40" viewBox="0 0 118 40" aria-hidden="true"><rect x="2" y="4" width="112" height="32" rx="9" fill="#fff7ed" stroke="#ea580c" stroke-width="3"/><text x="58" y="20" text-anchor="middle" dominant-baseline="central" font-size="13" font-weight="bold" fill="#9a3412" font-family="${FONT_FAMILY}">live</text></svg><figcaption>the watched entity's state; its outgoing transitions in orange (guards permitting)</figcaption></figure>
</div>`;

/** The page and its Content-Security-Policy. Deterministic for a given model. */
export function renderModelPage(
  model: ModelDescription,
  options: ModelPageOptions = {},
): ModelPage {
  // Issue #13: the simulation panel's stylesheet and script join the page's (one hash each).
  const style = STYLE + PLAY_STYLE;
  const script = SCRIPT + PLAY_SCRIPT;
  const nav = model.machines
    .map((m) => `<a href="#machine-${domId(m.id)}">${escapeXml(m.id)}</a>`)
    .concat([
      `<a href="#simulate">simulation</a>`,
      `<a href="#requirements">requirement ids</a>`,
      `<a href="/model/machines.json">machines.json</a>`,
    ])
    .join("");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" type="image/svg+xml" href="${ICON_PATH}">
<title>CPNS Security: the formal model</title>
<style>${style}</style>
</head>
<body>
<header>
<h1>CPNS Security: the formal model</h1>
<p>Drawn by this server from the XState machines in <code>machines/</code>, the same definitions its handlers ask before every write. Hover a transition for its actions and requirement ids; click it for its row below.</p>
<nav>${nav}</nav>
</header>
<main>
<section class="panel" id="live">
<h2>Live state <small>an entity, an OTK or a secure channel, as the server holds it</small></h2>
<form id="live-form" autocomplete="off">
<label for="live-token">Admin token<input type="password" id="live-token" name="token" required autocomplete="off" spellcheck="false"></label>
<label for="live-kind">Kind<select id="live-kind"><option value="entity">entity</option><option value="otk">OTK</option><option value="channel">secure channel (server end)</option></select></label>
<label for="live-entity">ID<input type="text" id="live-entity" name="entity" required autocomplete="off" spellcheck="false"></label>
<button type="submit" id="live-watch">Watch</button>
<button type="button" id="live-stop" disabled>Stop</button>
<label class="keep"><span><input type="checkbox" id="live-keep"> keep the token in this tab (sessionStorage)</span></label>
</form>
<p id="live-status" role="status" aria-live="polite" data-kind="idle">Not watching. The token stays in this page's memory (and this tab's sessionStorage only if you tick the box) and goes only to this server, as a Bearer token, every ${REFRESH_MS / 1000} s. Link a watch with <code>/model?watch=otk:&lt;id&gt;</code> (or <code>entity:</code>, <code>channel:</code>).</p>
</section>
${playgroundSection(model)}
<section class="panel" id="legend">
<h2>Legend</h2>
${LEGEND}
</section>
${model.machines.map(machineSection).join("\n")}
<section class="panel" id="requirements">
<h2>Requirement ids <small>as named in the machines' <code>meta.requirements</code></small></h2>
${requirementIndex(model, options.sourceUrl)}
</section>
</main>
<footer>The same model as JSON: <a href="/model/machines.json">/model/machines.json</a>.</footer>
<script>${script}</script>
</body>
</html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${cspHash(script)}`,
    `style-src ${cspHash(style)}`,
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}
