/**
 * Issue #14: runs SPIN on spec/promela/cpns.pml (one property, one variant per run), reads its
 * figures, replays a counterexample trail (spin -t) and draws it as a Mermaid sequence diagram.
 * `tsx scripts/spec/promela.ts` regenerates spec/promela/attacks/*.md and prints the figures
 * table of spec/model-checking.md; test/spec/promela.test.ts runs the same checks.
 * Needs `spin` and `gcc` (Debian packages spin, gcc).
 *
 * Implements: MODEL-VARIANTS, MODEL-NAMES
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const MODEL = "spec/promela/cpns.pml";
export const ATTACKS_DIR = "spec/promela/attacks";

/** The properties of the model (its P_* numbers), each with the requirement id it verifies. */
export const PROPERTIES = [
  { prop: 1, name: "secrecy", id: "MODEL-SECRECY" },
  { prop: 2, name: "agreement-entity", id: "MODEL-AGREEMENT-ENTITY" },
  { prop: 3, name: "agreement-peer", id: "MODEL-AGREEMENT-PEER" },
  { prop: 4, name: "no-replay", id: "MODEL-NO-REPLAY" },
  { prop: 5, name: "cut-through", id: "MODEL-CUT-THROUGH" },
  { prop: 6, name: "relay-integrity", id: "MODEL-RELAY-INTEGRITY" },
] as const;
export type Property = (typeof PROPERTIES)[number];

/** Each weakened design and the properties SPIN must find broken in it (an attack each). */
export const VARIANTS = [
  {
    define: "SEED",
    title:
      "the seed as written (no server authentication, qop=auth, OTK not bound to its addressee)",
    breaks: ["secrecy", "agreement-entity", "relay-integrity"],
  },
  {
    define: "NO_RSPAUTH",
    title: "our profile without rspauth required",
    breaks: ["agreement-entity"],
  },
  {
    define: "QOP_AUTH",
    title: "our profile with qop=auth instead of auth-int",
    breaks: ["relay-integrity"],
  },
  {
    define: "OTK_UNBOUND",
    title: "our profile with the OTK not bound to its addressee",
    breaks: ["secrecy"],
  },
  {
    define: "NO_CUT",
    title: "our profile without the revocation/rotation checks on the OTK",
    breaks: ["cut-through"],
  },
] as const;
export type Variant = (typeof VARIANTS)[number];

export interface Verification {
  errors: number;
  statesStored: number;
  transitions: number;
  depth: number;
  memoryMb: number;
  seconds: number;
  /** The replayed counterexample (spin -t output), when errors > 0. */
  trail?: string;
}

function run(cmd: string, args: string[], cwd: string): string {
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  if (result.status !== 0 && cmd !== "./pan")
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

const figure = (output: string, pattern: RegExp): number => {
  const match = pattern.exec(output);
  if (!match) throw new Error(`pan output without ${pattern}:\n${output}`);
  return Number(match[1]);
};

/**
 * spin -a, gcc, ./pan in a temporary folder. With `shortest`, pan searches iteratively for the
 * shortest counterexample (-DREACH, -i) so the diagram stays readable.
 */
export function verify(property: Property, variant?: Variant, shortest = false): Verification {
  const dir = mkdtempSync(join(tmpdir(), "cpns-spin-"));
  try {
    copyFileSync(join(REPO_ROOT, MODEL), join(dir, "cpns.pml"));
    const defines = [`-DPROP=${property.prop}`, ...(variant ? [`-D${variant.define}`] : [])];
    run("spin", ["-a", ...defines, "cpns.pml"], dir);
    run(
      "gcc",
      ["-O0", "-DSAFETY", ...(shortest ? ["-DREACH"] : []), "-w", "-o", "pan", "pan.c"],
      dir,
    );
    const started = performance.now();
    const output = run("./pan", ["-E", "-w20", ...(shortest ? ["-i"] : [])], dir);
    const seconds = (performance.now() - started) / 1000;
    const errors = figure(output, /errors: (\d+)/);
    const verification: Verification = {
      errors,
      statesStored: figure(output, /(\d+) states, stored/),
      transitions: figure(output, /(\d+) transitions/),
      depth: figure(output, /depth reached (\d+)/),
      memoryMb: figure(output, /([\d.]+)\s+total actual memory usage/),
      seconds,
    };
    if (errors > 0) verification.trail = run("spin", ["-t", ...defines, "cpns.pml"], dir);
    return verification;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The atoms of the model (its #defines), by number. */
const ATOMS = [
  "-",
  "Server",
  "G1",
  "G2",
  "PNE",
  "X",
  "KP",
  "KG1",
  "KG1N",
  "KG2",
  "KX",
  "HA1",
  "OTK1",
  "SK1",
  "N1",
  "N2",
  "B1",
  "B2",
  "R1",
  "R2",
];
/**
 * The mtype declarations of the model: `mtype:name = { a, b, ... }` as name -> values, and the
 * names the model leaves out on purpose (`omitted:` comments). SPIN numbers each list from its
 * end (the last value is 1), which the trail prints for constants.
 */
export function mtypeLists(source: string): Map<string, string[]> {
  const lists = new Map<string, string[]>();
  for (const match of source.matchAll(/mtype:(\w+)\s*=\s*\{([^}]*)\}/g))
    lists.set(
      match[1] as string,
      (match[2] as string)
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean),
    );
  return lists;
}
export function omittedNames(source: string): string[] {
  return [...source.matchAll(/\/\* omitted:([^*]*?)(\(|\*\/)/g)].flatMap((m) =>
    (m[1] as string).split(/\s+/).filter(Boolean),
  );
}
const LISTS = mtypeLists(readFileSync(join(REPO_ROOT, MODEL), "utf8"));
function mtypeName(list: string, value: string): string {
  if (!/^\d+$/.test(value)) return value;
  const values = LISTS.get(list) ?? [];
  return values[values.length - Number(value)] ?? value;
}

const PARTICIPANT: Record<string, string> = { 1: "Server", 2: "G1", 3: "G2", 4: "PNE", 5: "X" };
const atom = (n: string) => ATOMS[Number(n)] ?? n;

function label(kind: string, a: string, c: string, b: string, key: string): string {
  const fields = [
    a !== "0" ? `a=${atom(a)}` : "",
    c !== "0" ? `sealed=${atom(c)}` : "",
    b !== "0" ? `body=${atom(b)}` : "",
    `key=${atom(key)}`,
  ].filter(Boolean);
  return `${kind}(${fields.join(", ")})`;
}

/**
 * The trail as a Mermaid sequence diagram: honest sends go to the attacker (the network), the
 * attacker's deliveries and forgeries go on to their receivers, machine events are notes, and the
 * violated assertion closes it.
 */
export function trailToMermaid(trail: string, title: string, property = "an assertion"): string {
  const lines = ["sequenceDiagram", `  title ${title}`];
  for (const name of ["PNE", "G1", "G2", "Server"]) lines.push(`  participant ${name}`);
  lines.push("  participant A as Attacker (network, relay)");
  for (const raw of trail.split("\n")) {
    const line = raw.trim();
    const msg = /^(MSG|DELIVER|FORGE) (\d+) (\d+) (\w+) (\d+) (\d+) (\d+) (\d+)$/.exec(line);
    if (msg) {
      const [, what, s, d, kind, a, c, b, key] = msg as unknown as string[];
      const text = label(
        mtypeName("msg", kind as string),
        a as string,
        c as string,
        b as string,
        key as string,
      );
      const to = PARTICIPANT[d as string] ?? "A";
      if (what === "MSG") lines.push(`  ${PARTICIPANT[s as string] ?? "A"}->>A: ${text}`);
      else if (to !== "A") lines.push(`  A->>${to}: ${what === "FORGE" ? "forged " : ""}${text}`);
      continue;
    }
    const event = /^EVENT (\d+) (\w+) (\w+)$/.exec(line);
    if (event) {
      const [, who, ev, state] = event as unknown as string[];
      const machine = (state as string).split("_")[0] as string;
      lines.push(
        `  Note over ${PARTICIPANT[who as string]}: ${mtypeName(machine, ev as string)} → ${state}`,
      );
      continue;
    }
    // The first failed assertion ends the attack (the replay may go on past it).
    if (/text of failed assertion: /.test(line)) {
      lines.push(`  Note over PNE,A: ${property} violated`);
      break;
    }
  }
  return `${lines.join("\n")}\n`;
}

export const attackPath = (variant: Variant, property: Property) =>
  `${ATTACKS_DIR}/${variant.define.toLowerCase().replaceAll("_", "-")}-${property.name}.md`;

/** The page of one attack: what was weakened, what broke, and the message sequence. */
export function renderAttackPage(variant: Variant, property: Property, trail: string): string {
  const diagram = trailToMermaid(trail, `${variant.define}: ${property.id} broken`, property.id);
  return [
    `# Attack: ${property.id} in ${variant.define}`,
    "",
    `Generated by \`npx tsx scripts/spec/promela.ts\` from SPIN's first (depth-first) counterexample,`,
    `not the shortest one (\`spin -a -DPROP=${property.prop} -D${variant.define} spec/promela/cpns.pml\`, \`pan -E\`);`,
    `the test command fails when this file is stale. Variant: ${variant.title}.`,
    "See [../../model-checking.md](../../model-checking.md) for the reading.",
    "",
    "```mermaid",
    diagram.trimEnd(),
    "```",
    "",
  ].join("\n");
}

export function findProperty(name: string): Property {
  const found = PROPERTIES.find((p) => p.name === name);
  if (!found) throw new Error(`no property ${name}`);
  return found;
}

/** Every expected attack's page, as path -> content. */
export function renderAttackPages(): Map<string, string> {
  const pages = new Map<string, string>();
  for (const variant of VARIANTS)
    for (const name of variant.breaks) {
      const property = findProperty(name);
      const result = verify(property, variant, false);
      if (!result.trail) throw new Error(`${variant.define}: no attack on ${property.id}`);
      pages.set(attackPath(variant, property), renderAttackPage(variant, property, result.trail));
    }
  return pages;
}

const fmt = (v: Verification) =>
  `${v.errors} | ${v.statesStored} | ${v.transitions} | ${v.memoryMb.toFixed(1)} | ${v.seconds.toFixed(2)}`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  mkdirSync(join(REPO_ROOT, ATTACKS_DIR), { recursive: true });
  for (const [path, content] of renderAttackPages()) writeFileSync(join(REPO_ROOT, path), content);
  console.log("| run | property | errors | states stored | transitions | memory (MB) | time (s) |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const property of PROPERTIES)
    console.log(`| our profile | ${property.id} | ${fmt(verify(property))} |`);
  for (const variant of VARIANTS)
    for (const name of variant.breaks) {
      const property = findProperty(name);
      console.log(`| ${variant.define} | ${property.id} | ${fmt(verify(property, variant))} |`);
    }
}
