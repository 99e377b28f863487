/**
 * Issue #13 ("a readable page served by the project itself (no CDN)"): an OpenAPI document
 * rendered as one static HTML page, from the document itself so the page cannot say other
 * than the document: every operation with who may call it, its Digest qop, its parameters,
 * request and answer schemas and problem codes, and the security schemes in words.
 *
 * No script at all; one inline stylesheet allowed by its hash (Content-Security-Policy), no
 * request to any other host. Every text is escaped.
 *
 * Implements: OPENAPI-PAGE
 */
import { toBase64url, utf8 } from "../crypto/bytes.ts";
import { hashBytes } from "../crypto/hash.ts";
import type { OpenApiDocument, OpenApiOperation } from "./build.ts";

export interface ApiPage {
  html: string;
  csp: string;
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1d2330}
h1{margin-bottom:.2rem}section.op{border:1px solid #d0d5dd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}.p{font-family:monospace;font-size:1.05rem}
pre{background:#f4f5f7;padding:.5rem;overflow:auto;font-size:12px;max-height:24rem}table{border-collapse:collapse}
td,th{border:1px solid #d0d5dd;padding:.2rem .5rem;text-align:left;vertical-align:top}.x{color:#555}`;

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );
}

/** Each paragraph of a description, escaped, `code` spans kept. */
function prose(text: string): string {
  return text
    .split("\n\n")
    .map((p) => `<p>${escapeHtml(p).replace(/`([^`]+)`/g, "<code>$1</code>")}</p>`)
    .join("");
}

function json(value: unknown): string {
  return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
}

function contentOf(body: unknown): string {
  const content = (body as { content?: Record<string, { schema?: unknown }> }).content ?? {};
  return Object.entries(content)
    .map(
      ([media, { schema }]) =>
        `<div><code>${escapeHtml(media)}</code>${schema ? json(schema) : ""}</div>`,
    )
    .join("");
}

function operationHtml(method: string, path: string, op: OpenApiOperation): string {
  const id = `op-${op.operationId.replace(/[^A-Za-z0-9.-]/g, "_")}`;
  const extensions = Object.entries(op)
    .filter(([key]) => key.startsWith("x-"))
    .map(
      ([key, value]) =>
        `<tr><th>${escapeHtml(key)}</th><td><code>${escapeHtml(JSON.stringify(value))}</code></td></tr>`,
    )
    .join("");
  const security = op.security
    .map((s) => (Object.keys(s).length ? Object.keys(s).join(" + ") : "none"))
    .join(" or ");
  const params = (op.parameters ?? [])
    .map((p) => {
      const { name, description } = p as { name: string; description?: string };
      return `<tr><th><code>{${escapeHtml(name)}}</code></th><td>${escapeHtml(description ?? "")}</td></tr>`;
    })
    .join("");
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const { description } = r as { description: string };
      return `<details><summary><b>${escapeHtml(status)}</b> ${escapeHtml(description)}</summary>${contentOf(r)}</details>`;
    })
    .join("");
  return `<section class="op" id="${escapeHtml(id)}" data-method="${escapeHtml(method.toUpperCase())}" data-path="${escapeHtml(path)}">
<h3><span class="m">${escapeHtml(method.toUpperCase())}</span> <span class="p">${escapeHtml(path)}</span> <span class="x">${escapeHtml(op.operationId)}</span></h3>
<p>${escapeHtml(op.summary)}</p>${prose(op.description)}
<table><tr><th>security</th><td>${escapeHtml(security)}</td></tr>${extensions}${params}</table>
${op.requestBody ? `<h4>Request body</h4>${contentOf(op.requestBody)}` : ""}
<h4>Responses</h4>${responses}
</section>`;
}

/** `'sha256-...'` of an inline element's text, as CSP Level 2 computes it (standard base64). */
function cspHash(text: string): string {
  const b64url = toBase64url(hashBytes("SHA-256", utf8(text)));
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
  return `'sha256-${b64}${"=".repeat((4 - (b64.length % 4)) % 4)}'`;
}

export function renderApiPage(doc: OpenApiDocument): ApiPage {
  const ops: string[] = [];
  const index: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      ops.push(operationHtml(method, path, op));
      index.push(
        `<li><a href="#op-${escapeHtml(op.operationId.replace(/[^A-Za-z0-9.-]/g, "_"))}"><code>${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</code></a></li>`,
      );
    }
  }
  const schemes = Object.entries(doc.components.securitySchemes)
    .map(([name, scheme]) => {
      const { type, scheme: kind, description } = scheme as Record<string, string>;
      return `<tr><th>${escapeHtml(name)}</th><td><code>${escapeHtml(`${type} ${kind}`)}</code></td><td>${escapeHtml(description ?? "")}</td></tr>`;
    })
    .join("");
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(doc.info.title)}: API</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(doc.info.title)}</h1>
<p>OpenAPI ${escapeHtml(doc.openapi)} document: <a href="openapi.json">openapi.json</a></p>
${prose(doc.info.description)}
<h2>Security schemes</h2><table>${schemes}</table>
<h2>Operations</h2><ul>${index.join("")}</ul>
${ops.join("\n")}
</body></html>`;
  const csp = [
    "default-src 'none'",
    `style-src ${cspHash(STYLE)}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}
