/**
 * The reviewer page of issue #5, served by the running CPNS Server:
 *
 *   GET /model                                   the page (src/reviewer-page/page.ts): every machine
 *                                                drawn, with guards, events and requirement ids
 *   GET /model/icon.svg                          its icon (so the browser asks for no /favicon.ico)
 *   GET /model/machines.json                     the same model as JSON (src/reviewer-page/describe.ts)
 *   GET /model/xstate/:machineId                 one machine as XState JSON, for Stately's tools
 *   GET /cpns/v1/admin/entities/:entityId/state  admin only: one entity's live machine state,
 *                                                rebuilt from its stored record as the handlers
 *                                                rebuild it before every write
 *
 * The page is static for a given build of the machines, so it is rendered once. It is served
 * with a Content-Security-Policy that allows only its own inline stylesheet and script (by hash)
 * and requests to this origin.
 *
 * Implements: SPEC-MODEL-PAGE
 */

import type { Context } from "hono";
import type * as z from "zod";
import { entityMachine } from "../../machines/entity.ts";
import { CpnsError } from "../errors.ts";
import type { entityStateSchema } from "../protocol/responses.ts";
import { describe, type ModelDescription } from "../reviewer-page/describe.ts";
import { ICON_SVG, type ModelPage, renderModelPage } from "../reviewer-page/page.ts";
import { xstateJsonOf } from "../reviewer-page/xstate-export.ts";
import type { ServerEnv, ServerParts } from "./context.ts";
import { entitySnapshot } from "./entity-model.ts";

/** What `GET /cpns/v1/admin/entities/:entityId/state` answers (its schema is the API document's, issue #13). */
export type EntityStateView = z.infer<typeof entityStateSchema>;

let model: ModelDescription | undefined;
let page: ModelPage | undefined;

function theModel(): ModelDescription {
  model ??= describe();
  return model;
}

function thePage(): ModelPage {
  page ??= renderModelPage(theModel());
  return page;
}

export function modelPageHandlers(parts: ServerParts) {
  function modelPage(_c: Context<ServerEnv>): Response {
    const { html, csp } = thePage();
    return new Response(html, {
      status: 200,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      },
    });
  }

  function icon(_c: Context<ServerEnv>): Response {
    return new Response(ICON_SVG, {
      status: 200,
      headers: {
        "content-type": "image/svg+xml",
        "content-security-policy": "default-src 'none'",
        "x-content-type-options": "nosniff",
        "cache-control": "public, max-age=86400",
      },
    });
  }

  function machines(c: Context<ServerEnv>): Response {
    return c.json(theModel(), 200, {
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
    });
  }

  /** One machine as XState JSON (src/reviewer-page/xstate-export.ts), for Stately's tools. */
  function xstate(c: Context<ServerEnv>): Response {
    const json = xstateJsonOf(c.req.param("machineId") ?? "");
    if (!json) throw new CpnsError("ERR_NOT_FOUND");
    return c.json(json, 200, {
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-disposition": `inline; filename="${String(json.id)}.xstate.json"`,
    });
  }

  async function entityState(c: Context<ServerEnv>): Promise<Response> {
    if (c.var.principal.kind !== "admin") throw new CpnsError("ERR_FORBIDDEN");
    const entityId = c.req.param("entityId") ?? "";
    const record = await parts.entities.get(entityId);
    if (!record) throw new CpnsError("ERR_NOT_FOUND");
    const snapshot = entitySnapshot(entityId, record);
    const view: EntityStateView = {
      machine: entityMachine.id,
      entityId,
      value: snapshot.value,
      context: {
        keyVersion: snapshot.context.keyVersion,
        userId: snapshot.context.userId,
        entityType: snapshot.context.entityType,
      },
    };
    return c.json(view, 200, { "cache-control": "no-store" });
  }

  return { page: modelPage, icon, machines, xstate, entityState };
}
