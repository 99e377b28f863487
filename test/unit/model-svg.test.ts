/**
 * src/reviewer-page/svg.ts and src/reviewer-page/page.ts (issue #5): the SVG of each machine carries the hooks
 * the page and its tests rely on (`data-state`, `data-transition` with a `<title>` naming the
 * requirement ids, a link to the transition's table row), escapes whatever the machine says,
 * and needs no inline style; the page's Content-Security-Policy hashes are those of its inline
 * stylesheet and script, computed here independently with node:crypto.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { setup } from "xstate";
import { describeMachine, describe as describeModel } from "../../src/reviewer-page/describe.ts";
import { ICON_PATH, ICON_SVG, renderModelPage } from "../../src/reviewer-page/page.ts";
import {
  domId,
  escapeXml,
  renderMachineSvg,
  transitionTitle,
} from "../../src/reviewer-page/svg.ts";

const model = describeModel();

/** Tag balance of an XML fragment without comments, CDATA or processing instructions. */
function balanced(xml: string): boolean {
  const stack: string[] = [];
  for (const match of xml.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match as unknown as [string, string, string, string];
    if (selfClosing) continue;
    if (!closing) stack.push(name);
    else if (stack.pop() !== name) return false;
  }
  return stack.length === 0;
}

describe("[SPEC-MODEL-PAGE] renderMachineSvg(): each machine as an SVG", () => {
  it("[SPEC-MODEL-PAGE] draws a data-state group per state and a data-transition group per transition, titled with its requirement ids", () => {
    for (const machine of model.machines) {
      const svg = renderMachineSvg(machine);
      expect(svg.startsWith("<svg ")).toBe(true);
      expect(balanced(svg)).toBe(true);
      expect(svg).toContain(`data-machine="${machine.id}"`);
      expect(svg).toContain(`data-initial="${machine.initial}"`);
      const states = [...svg.matchAll(/<g [^>]*data-state="([^"]+)"/g)].map((m) => m[1]);
      expect(states).toEqual(machine.states.map((s) => s.id));
      const groups = [
        ...svg.matchAll(/<g [^>]*data-transition="([^"]+)"[^>]*><title>([^<]*)<\/title>/g),
      ];
      expect(groups.map((m) => m[1])).toEqual(machine.transitions.map((t) => t.id));
      for (const [i, t] of machine.transitions.entries()) {
        const title = groups[i]?.[2] ?? "";
        expect(title).toBe(escapeXml(transitionTitle(t)));
        for (const id of t.requirements) expect(title).toContain(id);
        expect(svg).toContain(`href="#row-${domId(t.id)}"`);
      }
      expect(svg).not.toMatch(/\sstyle=/);
    }
  });

  it("[SPEC-MODEL-PAGE] draws the final state with a double border and labels transitions EVENT [guard]", () => {
    const entity = model.machines.find((m) => m.id === "entity");
    if (!entity) throw new Error("no entity machine");
    const svg = renderMachineSvg(entity);
    const revoked = /<g class="state final"[^>]*data-state="entity.revoked"[^>]*>(.*?)<\/g>/s.exec(
      svg,
    );
    expect(revoked?.[1]).toMatch(/class="box"[\s\S]*class="inner"/);
    expect(svg).toMatch(/>REVOKE <tspan class="guard"[^>]*>\[isOwner\]<\/tspan><\/text>/);
    expect(svg).toMatch(/class="initial-marker"/);
    expect(transitionTitle(entity.transitions[0] as (typeof entity.transitions)[number])).toMatch(
      /^ENROLL \/ assignOwner, issueNextKey\nentity\.unassigned → entity\.active\nRequirements: /,
    );
  });

  it("[SPEC-MODEL-PAGE] escapes what the machine says (descriptions, guard and event names)", () => {
    const hostile = setup({ guards: { 'x"><script>': () => true } }).createMachine({
      id: "hostile",
      initial: "a",
      states: {
        a: {
          description: '</title><script>alert("a & b")</script>',
          on: { "<EVT>": { target: "b", guard: 'x"><script>' } },
        },
        b: {},
      },
    });
    const d = describeMachine({ id: "hostile", title: "<b>", source: "x", machine: hostile });
    const svg = renderMachineSvg(d);
    expect(svg).not.toMatch(/<script|<EVT>|<\/title><script|<b>/);
    expect(svg).toContain("&lt;/title&gt;&lt;script&gt;alert(&quot;a &amp; b&quot;)");
    expect(balanced(svg)).toBe(true);
    expect(domId("a.b:C D>0")).toBe("a-b-C-D-0");
  });
});

describe("[SPEC-MODEL-PAGE] renderModelPage(): the reviewer page", () => {
  const { html, csp } = renderModelPage(model);
  const sha256 = (text: string) =>
    `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;

  it("[SPEC-MODEL-PAGE] allows exactly its own inline stylesheet and script by hash, and nothing from another host", () => {
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] as string);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
    expect(styles).toHaveLength(1);
    expect(scripts).toHaveLength(1);
    expect(csp).toContain(`script-src ${sha256(scripts[0] as string)};`);
    expect(csp).toContain(`style-src ${sha256(styles[0] as string)};`);
    expect(csp).toMatch(/^default-src 'none';/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("img-src 'self'");
    expect(csp).not.toMatch(/unsafe|data:|https?:|\*/);
    expect(html).not.toMatch(/\sstyle="|<script\s+src|<link(?![^>]*rel="icon")/);
    expect(html).not.toMatch(/(?:src|href|action)="(?:https?:)?\/\//);
    expect(html).toContain(`<link rel="icon" type="image/svg+xml" href="${ICON_PATH}">`);
    expect(balanced(ICON_SVG)).toBe(true);
  });

  it("[SPEC-MODEL-PAGE] holds every machine's SVG, a transition table row per transition and an index entry per requirement id", () => {
    for (const machine of model.machines) {
      expect(html).toContain(`<section class="panel machine" id="machine-${machine.id}">`);
      expect(html).toContain(renderMachineSvg(machine));
      for (const t of machine.transitions) expect(html).toContain(`<tr id="row-${domId(t.id)}"`);
      for (const id of machine.transitions.flatMap((t) => t.requirements)) {
        expect(html).toContain(`<dt id="req-${domId(id)}">${id}</dt>`);
      }
    }
    expect(html).toContain('id="live-form"');
    expect(html).toMatch(/<input type="password" id="live-token"/);
    expect(renderModelPage(model)).toEqual({ html, csp });
  });
});
