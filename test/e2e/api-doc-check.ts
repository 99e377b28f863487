/**
 * Issue #13: checks a real HTTP answer against an OpenAPI 3.1 document, independently of the
 * generator: the operation is found by the documented path template and method, the status
 * must be documented (or the operation's `default`), the media type must be one the status
 * documents, and a JSON body must validate (Ajv, JSON Schema 2020-12) against the schema.
 * Components are resolved by hand (only #/components/schemas/... is used).
 */
import { Ajv2020 } from "ajv/dist/2020.js";

type Json = Record<string, unknown>;

export interface Exchange {
  method: string;
  /** Path and query of the request, as sent. */
  path: string;
  status: number;
  contentType: string;
  body: string;
}

export interface DocOperation {
  template: string;
  method: string;
  op: Json;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });

function templateRegex(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) =>
      part === "{serverPath}"
        ? ".+"
        : part.startsWith("{")
          ? "[^/]+"
          : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`);
}

/** The documented operation a request reaches; a literal path wins over a template. */
export function findOperation(doc: Json, method: string, path: string): DocOperation | undefined {
  const pathname = path.split("?")[0] ?? "";
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const candidates = Object.keys(paths)
    .filter((template) => templateRegex(template).test(pathname))
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  for (const template of candidates) {
    const op = paths[template]?.[method.toLowerCase()];
    if (op) return { template, method: method.toLowerCase(), op };
  }
  return undefined;
}

function resolveRefs(value: unknown, doc: Json): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveRefs(item, doc));
  if (value && typeof value === "object") {
    const ref = (value as Json).$ref;
    if (typeof ref === "string" && ref.startsWith("#/components/schemas/")) {
      const schemas = (doc.components as Json).schemas as Json;
      return resolveRefs(schemas[ref.slice("#/components/schemas/".length)], doc);
    }
    return Object.fromEntries(
      Object.entries(value as Json).map(([k, v]) => [k, resolveRefs(v, doc)]),
    );
  }
  return value;
}

/** What is wrong with this answer by the document; empty when it matches. */
export function checkExchange(doc: Json, exchange: Exchange): string[] {
  const where = `${exchange.method} ${exchange.path} -> ${exchange.status}`;
  const found = findOperation(doc, exchange.method, exchange.path);
  if (!found) return [`${where}: no documented operation`];
  const responses = found.op.responses as Record<string, Json>;
  const documented = responses[String(exchange.status)] ?? responses.default;
  if (!documented) return [`${where}: status not documented for ${found.template}`];
  const content = documented.content as Record<string, Json> | undefined;
  const media = exchange.contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!content) {
    if (responses[String(exchange.status)] && exchange.body.length > 0) {
      return [`${where}: a body where none is documented`];
    }
    return [];
  }
  const entry = content[media];
  if (!entry) return [`${where}: media type ${media} not documented (${Object.keys(content)})`];
  if (!entry.schema) return [];
  let value: unknown;
  try {
    value = JSON.parse(exchange.body);
  } catch {
    return [`${where}: not JSON`];
  }
  const validate = ajv.compile(resolveRefs(entry.schema, doc) as Json);
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (e) => `${where}: ${e.instancePath || "(body)"} ${e.message} ${JSON.stringify(e.params)}`,
  );
}

/** A transport that records every exchange (cloned, so the caller still reads its answer). */
export function recording(
  log: Array<Exchange & { origin: string }>,
  inner: (request: Request) => Response | Promise<Response> = (request) => fetch(request),
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const res = await inner(request);
    const copy = res.clone();
    log.push({
      origin: url.origin,
      method: request.method,
      path: `${url.pathname}${url.search}`,
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      body: await copy.text(),
    });
    return res;
  };
}
