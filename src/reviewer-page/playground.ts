/**
 * Issue #13, simulation mode of the reviewer page: a panel where a reviewer picks a machine,
 * edits its input, sends it events with payloads (guard inputs and the time included) and
 * watches the state move on the diagram and the context change. The sandbox snapshot is kept
 * in the page (a history array, so undo and reset are local); each step is one call to the
 * pure `POST /model/simulate/:machineId` (simulate.ts), which keeps nothing.
 *
 * What is returned here is added to the page by page.ts: the panel's HTML, its stylesheet and
 * its script (plain ES2020 in a string, covered by the page's CSP hash like the live script).
 * Values from the server are written with textContent only, never as HTML.
 *
 * Implements: PLAY-SIM-PAGE
 */
import type { ModelDescription } from "./describe.ts";
import { SIM_EXAMPLES } from "./sim-examples.ts";
import { escapeXml, FONT_FAMILY } from "./svg.ts";

/** Where the page sends each step (policy row `model.simulate`). */
export const SIMULATE_PATH = "/model/simulate/";

export const PLAY_STYLE = `
form#live-form select { font: inherit; padding: 6px 8px; border: 1px solid #cbd5e1; border-radius: 6px; }
form#live-form input[type="checkbox"] { min-width: 0; }
#simulate .sim-controls { display: flex; gap: 12px; flex-wrap: wrap; align-items: end; }
#simulate label { display: grid; gap: 2px; font-size: 13px; color: var(--muted); }
#simulate select { font: inherit; padding: 5px 8px; border: 1px solid #cbd5e1; border-radius: 6px; }
#simulate textarea { font-family: ${FONT_FAMILY}; font-size: 13px;
  width: 100%; min-height: 96px; padding: 6px 8px; border: 1px solid #cbd5e1; border-radius: 6px; }
#simulate .sim-grid { display: grid; gap: 16px; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr);
  margin-top: 12px; }
#simulate .sim-diagram svg { display: block; max-width: 100%; height: auto; }
#sim-events { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0 10px; }
#sim-events button { background: #fff; color: var(--ink); border-color: #94a3b8; padding: 3px 10px;
  font-size: 13px; }
#sim-events button.selected { background: #059669; border-color: #047857; color: #fff; }
#sim-events button[disabled] { background: #f1f5f9; color: #94a3b8; border-style: dashed; }
#sim-events .why { font-size: 11px; display: block; color: inherit; opacity: .85; }
#sim-result { margin: 8px 0; padding: 6px 10px; border-radius: 6px; background: #f8fafc;
  border: 1px solid var(--line); }
#sim-result[data-kind="accepted"] { background: #ecfdf5; border-color: #6ee7b7; }
#sim-result[data-kind="refused"], #sim-result[data-kind="error"] { background: #fef2f2;
  border-color: #fca5a5; color: #991b1b; }
#sim-context tr.changed td { background: #fef9c3; }
#sim-history { margin: 6px 0 0; padding-left: 22px; font-size: 13px; }
dl.requirements .req-text { margin: 2px 0; color: var(--ink); }
dl.requirements .req-links { margin: 0 0 8px; font-size: 13px; color: var(--muted); }
svg .state.sim .box { fill: #ecfdf5; stroke: #059669; stroke-width: 3; }
svg .state.sim .name { fill: #065f46; }
svg .transition.sim-taken .edge { stroke: #059669; stroke-width: 3; }
`;

/**
 * The panel's script. The snapshot the server answered is the whole sandbox: `history` holds
 * every answer, the last one is current; undo drops the last, reset keeps the first.
 */
export const PLAY_SCRIPT = `
(() => {
  "use strict";
  const ENDPOINT = ${JSON.stringify(SIMULATE_PATH)};
  const $ = (id) => document.getElementById(id);
  const machineSelect = $("sim-machine");
  const inputEditor = $("sim-input");
  const payloadEditor = $("sim-payload");
  const eventsBox = $("sim-events");
  const result = $("sim-result");
  const body = $("sim-body");
  const diagram = $("sim-diagram");
  const contextRows = $("sim-context").querySelector("tbody");
  const historyList = $("sim-history");
  let history = [];
  let selected = null;

  function say(kind, text) {
    result.dataset.kind = kind;
    result.textContent = text;
  }

  async function call(machine, request) {
    const res = await fetch(ENDPOINT + encodeURIComponent(machine), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(request),
      cache: "no-store",
      credentials: "omit",
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new Error((answer.code || "HTTP " + res.status) + ": " + (answer.detail || answer.title || ""));
    }
    return answer;
  }

  function showDiagram(machine) {
    diagram.replaceChildren();
    const source = document.querySelector('svg[data-machine="' + CSS.escape(machine) + '"]');
    if (!source) return;
    const copy = source.cloneNode(true);
    // The copy must not be taken for the original by the live view or by #fragment links.
    copy.removeAttribute("data-machine");
    copy.dataset.simMachine = machine;
    for (const el of copy.querySelectorAll('[id^="state-"], [id^="transition-"]')) el.removeAttribute("id");
    diagram.append(copy);
  }

  function highlight(answer) {
    for (const el of document.querySelectorAll(".sim, .sim-taken")) el.classList.remove("sim", "sim-taken");
    const stateId = answer.machine + "." + answer.snapshot.value;
    const svgs = [diagram.querySelector("svg"),
      document.querySelector('svg[data-machine="' + CSS.escape(answer.machine) + '"]')];
    for (const svg of svgs) {
      if (!svg) continue;
      const state = svg.querySelector('[data-state="' + CSS.escape(stateId) + '"]');
      if (state) state.classList.add("sim");
    }
    const previous = history.length > 1 ? history[history.length - 2] : null;
    const step = answer.step;
    if (previous && step && step.accepted) {
      const from = answer.machine + "." + previous.snapshot.value;
      const svg = diagram.querySelector("svg");
      for (const t of svg ? svg.querySelectorAll('[data-source="' + CSS.escape(from) + '"]') : []) {
        if (t.dataset.transition.split(":")[1] === step.event && t.dataset.target === step.target) {
          t.classList.add("sim-taken");
        }
      }
    }
    body.dataset.state = stateId;
  }

  function renderContext(before, now) {
    contextRows.replaceChildren();
    for (const key of Object.keys(now)) {
      const row = document.createElement("tr");
      row.dataset.field = key;
      const changed = before !== null && JSON.stringify(before[key]) !== JSON.stringify(now[key]);
      if (changed) row.classList.add("changed");
      for (const text of [key, before === null ? "" : JSON.stringify(before[key]), JSON.stringify(now[key])]) {
        const cell = document.createElement("td");
        cell.className = "mono";
        cell.textContent = text;
        row.append(cell);
      }
      contextRows.append(row);
    }
  }

  function choose(choice) {
    selected = choice.type;
    for (const b of eventsBox.querySelectorAll("button")) b.classList.toggle("selected", b.dataset.event === choice.type);
    payloadEditor.value = JSON.stringify(choice.example, null, 2);
    $("sim-send").disabled = false;
  }

  function renderEvents(answer) {
    eventsBox.replaceChildren();
    selected = null;
    $("sim-send").disabled = true;
    payloadEditor.value = "";
    for (const choice of answer.events) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.event = choice.type;
      button.textContent = choice.type;
      const why = document.createElement("span");
      why.className = "why";
      if (answer.snapshot.status === "done") {
        button.disabled = true;
        why.textContent = "final state";
      } else if (!choice.handled) {
        button.disabled = true;
        why.textContent = "not handled in " + answer.snapshot.value;
      } else {
        const guards = choice.guards.filter((g) => g !== null);
        why.textContent = guards.length ? "[" + guards.join("] or [") + "]" : "no guard";
      }
      button.title = why.textContent;
      button.append(why);
      button.addEventListener("click", () => choose(choice));
      eventsBox.append(button);
    }
  }

  function renderHistory() {
    historyList.replaceChildren();
    for (const [i, answer] of history.entries()) {
      const item = document.createElement("li");
      item.textContent = i === 0 ? "start: " + answer.snapshot.value
        : answer.step.event + " \\u2192 " + answer.snapshot.value;
      historyList.append(item);
    }
    $("sim-undo").disabled = history.length < 2;
    $("sim-reset").disabled = history.length < 2;
  }

  function render(before) {
    const answer = history[history.length - 1];
    body.hidden = false;
    $("sim-value").textContent = answer.machine + "." + answer.snapshot.value +
      (answer.snapshot.status === "done" ? " (final)" : "");
    highlight(answer);
    renderContext(before, answer.snapshot.context);
    renderEvents(answer);
    renderHistory();
  }

  function parse(editor, what) {
    const text = editor.value.trim();
    if (text === "") return {};
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(what + " is not valid JSON");
    }
  }

  function loadExample() {
    const option = machineSelect.selectedOptions[0];
    inputEditor.value = JSON.stringify(JSON.parse(option.dataset.input || "{}"), null, 2);
  }

  async function start() {
    const machine = machineSelect.value;
    try {
      const answer = await call(machine, { input: parse(inputEditor, "The input") });
      history = [answer];
      showDiagram(machine);
      render(null);
      say("idle", "Started " + machine + " in " + answer.snapshot.value + ". Pick an event.");
    } catch (err) {
      say("error", err.message);
    }
  }

  async function send() {
    if (!selected || history.length === 0) return;
    const current = history[history.length - 1];
    try {
      const payload = parse(payloadEditor, "The payload");
      const answer = await call(current.machine, {
        snapshot: current.snapshot,
        event: Object.assign({}, payload, { type: selected }),
      });
      if (!answer.step.accepted) {
        say("refused", selected + " refused: " + answer.step.reason);
        return;
      }
      history.push(answer);
      render(current.snapshot.context);
      say("accepted", answer.step.event + " accepted: now in " + answer.step.target +
        (answer.step.requirements.length ? " \\u00b7 " + answer.step.requirements.join(", ") : ""));
    } catch (err) {
      say("error", err.message);
    }
  }

  machineSelect.addEventListener("change", loadExample);
  $("sim-start").addEventListener("click", start);
  $("sim-send").addEventListener("click", send);
  $("sim-undo").addEventListener("click", () => {
    if (history.length < 2) return;
    history.pop();
    render(null);
    say("idle", "Undone: back in " + history[history.length - 1].snapshot.value + ".");
  });
  $("sim-reset").addEventListener("click", () => {
    history = history.slice(0, 1);
    render(null);
    say("idle", "Reset to the start.");
  });
  loadExample();
})();
`;

/** The panel: machine picker with each machine's example input, then the sandbox itself. */
export function playgroundSection(model: ModelDescription): string {
  const options = model.machines
    .filter((m) => Object.hasOwn(SIM_EXAMPLES, m.id))
    .map(
      (m) =>
        `<option value="${escapeXml(m.id)}" data-input="${escapeXml(JSON.stringify(SIM_EXAMPLES[m.id]?.input ?? {}))}">${escapeXml(m.id)}</option>`,
    )
    .join("");
  return `<section class="panel" id="simulate">
<h2>Simulation <small>a sandbox copy kept in this page; the server computes each step and keeps nothing</small></h2>
<p class="muted">Pick a machine, edit its input, start; then pick an event the state accepts, edit its payload (guard inputs and the time are yours to set) and send it.</p>
<div class="sim-controls">
<label for="sim-machine">Machine<select id="sim-machine">${options}</select></label>
<button type="button" id="sim-start">Start</button>
</div>
<label for="sim-input">Input (JSON)<textarea id="sim-input" spellcheck="false"></textarea></label>
<div id="sim-body" hidden>
<div class="sim-grid">
<div>
<p>State: <code id="sim-value"></code></p>
<div class="sim-diagram" id="sim-diagram"></div>
</div>
<div>
<p class="muted">Events (greyed: not accepted here, and why)</p>
<div id="sim-events"></div>
<label for="sim-payload">Event payload (JSON)<textarea id="sim-payload" spellcheck="false"></textarea></label>
<p><button type="button" id="sim-send" disabled>Send</button> <button type="button" id="sim-undo" disabled>Undo</button> <button type="button" id="sim-reset" disabled>Reset</button></p>
<table id="sim-context" aria-label="Context"><thead><tr><th>Field</th><th>Before</th><th>Now</th></tr></thead><tbody></tbody></table>
<p class="muted">History</p>
<ol id="sim-history"></ol>
</div>
</div>
</div>
<p id="sim-result" role="status" aria-live="polite" data-kind="idle">Not started.</p>
</section>`;
}
