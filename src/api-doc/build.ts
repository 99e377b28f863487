/**
 * Issue #13 ("The API document"): the pieces every OpenAPI 3.1 document of the project is
 * made of. An operation is described once (src/api-doc/server-doc.ts, gateway-doc.ts) with
 * the SAME zod schemas the handlers read requests with and infer their answers' types from;
 * this file turns them into JSON Schema 2020-12 (zod 4's own `z.toJSONSchema`, OpenAPI
 * 3.1's dialect) and groups the problem+json answers by status, each with the enum of its
 * stable codes (src/errors.ts).
 *
 * Web standards only: the document is built inside the apps on Node, Deno and Workers.
 *
 * Implements: OPENAPI-DOC, OPENAPI-SCHEMAS, OPENAPI-PROBLEMS
 */
import * as z from "zod";
import { type ErrorCode, ErrorCodes } from "../errors.ts";

export type JsonSchema = Record<string, unknown>;

/** A body: JSON validated by a zod schema, or another media type (binary, HTML). */
export interface BodyDoc {
  description: string;
  json?: z.ZodType;
  /** A media type other than application/json (the body is then not described further). */
  media?: string;
}

export interface OperationDoc {
  summary: string;
  description?: string;
  /** Path parameters: name -> what it names. */
  params?: Readonly<Record<string, string>>;
  request?: BodyDoc;
  /** Success answers by status. */
  responses: Readonly<Record<number, BodyDoc>>;
  /** The stable codes this route itself can answer, beyond the generic ones its caller kind adds. */
  problems: readonly ErrorCode[];
  /** A relay: any other answer is another API's, documented as `default` with this description. */
  passThrough?: string;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description: string;
  security: Array<Record<string, string[]>>;
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  [extension: `x-${string}`]: unknown;
}

export interface OpenApiDocument {
  openapi: "3.1.0";
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, JsonSchema> };
  [extension: `x-${string}`]: unknown;
}

/** JSON Schema 2020-12 of a zod schema; requests as read (input), answers as written (output). */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    // Refinements (one of three password forms, a URL check) cannot be said in JSON Schema:
    // they are checked by the server and named in the operation's description.
    unrepresentable: "any",
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** RFC 9457 problem details, as src/errors.ts renders them. */
export const PROBLEM_SCHEMA: JsonSchema = {
  type: "object",
  required: ["type", "title", "status", "code"],
  properties: {
    type: { type: "string", description: "urn:cpns:problem:<code>" },
    title: { type: "string" },
    status: { type: "integer" },
    code: { type: "string", description: "the stable error code (src/errors.ts)" },
    detail: { type: "string", description: "never secret material" },
  },
  additionalProperties: false,
};

/** OpenAPI's {name} for Hono's :name, and the relay's * as {serverPath}. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z]+)/g, "{$1}").replace(/\*$/, "{serverPath}");
}

function bodyContent(body: BodyDoc, io: "input" | "output"): Record<string, unknown> {
  if (body.json) return { "application/json": { schema: jsonSchemaOf(body.json, io) } };
  return { [body.media ?? "application/octet-stream"]: {} };
}

/** The problem answers of `codes`, one per status, each with the enum of its codes. */
export function problemResponses(codes: readonly ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ErrorCodes[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const sorted = [...list].sort();
    out[String(status)] = {
      description: sorted.map((code) => `${code}: ${ErrorCodes[code].title}`).join("; "),
      content: {
        "application/problem+json": {
          schema: {
            allOf: [
              { $ref: "#/components/schemas/Problem" },
              { properties: { status: { const: status }, code: { enum: sorted } } },
            ],
          },
        },
      },
    };
  }
  return out;
}

/** One operation: its bodies as JSON Schema, its problems by status, the policy as x- fields. */
export function operation(
  routeId: string,
  doc: OperationDoc,
  extra: {
    security: Array<Record<string, string[]>>;
    description: string;
    problems: readonly ErrorCode[];
    extensions: Record<`x-${string}`, unknown>;
  },
): OpenApiOperation {
  const responses: Record<string, unknown> = {};
  for (const [status, body] of Object.entries(doc.responses)) {
    responses[status] =
      body.json || body.media
        ? { description: body.description, content: bodyContent(body, "output") }
        : { description: body.description };
  }
  Object.assign(responses, problemResponses([...extra.problems, ...doc.problems]));
  if (doc.passThrough) responses.default = { description: doc.passThrough };
  const op: OpenApiOperation = {
    operationId: routeId,
    summary: doc.summary,
    description: [doc.description, extra.description].filter(Boolean).join("\n\n"),
    security: extra.security,
    responses,
    ...extra.extensions,
  };
  if (doc.params) {
    op.parameters = Object.entries(doc.params).map(([name, description]) => ({
      name,
      in: "path",
      required: true,
      description,
      schema: { type: "string" },
    }));
  }
  if (doc.request) {
    op.requestBody = {
      required: true,
      description: doc.request.description,
      content: bodyContent(doc.request, "input"),
    };
  }
  return op;
}

/** Adds `op` under its path and method; "ALL" (the relay) is listed as GET, POST and DELETE. */
export function addOperation(
  paths: OpenApiDocument["paths"],
  method: string,
  honoPath: string,
  op: OpenApiOperation,
): void {
  const path = openApiPath(honoPath);
  const item = paths[path] ?? {};
  paths[path] = item;
  const methods = method === "ALL" ? ["get", "post", "delete"] : [method.toLowerCase()];
  for (const m of methods) {
    item[m] = methods.length > 1 ? { ...op, operationId: `${op.operationId}.${m}` } : op;
  }
}
