/**
 * The reviewer page of issue #5, served by the running CPNS Server:
 *
 *   GET /model                                   the page (src/reviewer-page/page.ts): every machine
 *                                                drawn, with guards, events and requirement ids
 *   GET /model/icon.svg                          its icon (so the browser asks for no /favicon.ico)
 *   GET /model/machines.json                     the same model as JSON (src/reviewer-page/describe.ts)
 *   GET /model/xstate/:machineId                 one machine as XState JSON, for Stately's tools
 *   POST /model/simulate/:machineId              one step of the page's simulation mode (issue #13):
 *                                                pure, the snapshot travels with the request
 *   GET /cpns/v1/admin/entities/:entityId/state  admin only: one entity's live machine state,
 *                                                rebuilt from its stored record as the handlers
 *                                                rebuild it before every write
 *   GET /cpns/v1/admin/otks/:otkId/state         admin only (issue #13): one OTK's, the same way
 *                                                (never the sealed key itself)
 *   GET /cpns/v1/admin/channels/:sessionId/state admin only (issue #13): one open secure
 *                                                channel's, from the server's channel registry
 *
 * The page is static for a given build of the machines, so it is rendered once. It is served
 * with a Content-Security-Policy that allows only its own inline stylesheet and script (by hash)
 * and requests to this origin.
 *
 * Implements: SPEC-MODEL-PAGE, PLAY-SIM-PURE, PLAY-LIVE-STATE
 */

import type { Context } from "hono";
import * as z from "zod";
import { entityMachine } from "../../machines/entity.ts";
import { otkMachine } from "../../machines/otk.ts";
import { secureChannelServerMachine } from "../../machines/secure-channel.ts";
import type { RegisteredChannel } from "../channel/registry.ts";
import { CpnsError } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import { readJson } from "../protocol/body.ts";
import type { entityStateSchema, liveStateSchema } from "../protocol/responses.ts";
import { otkIdSchema } from "../protocol/schemas.ts";
import { describe, type ModelDescription } from "../reviewer-page/describe.ts";
import { ICON_SVG, type ModelPage, renderModelPage } from "../reviewer-page/page.ts";
import { SIM_BODY_LIMIT, simulate } from "../reviewer-page/simulate.ts";
import { xstateJsonOf } from "../reviewer-page/xstate-export.ts";
import type { ServerEnv, ServerParts } from "./context.ts";
import { entitySnapshot } from "./entity-model.ts";

/** What `GET /cpns/v1/admin/entities/:entityId/state` answers (its schema is the API document's, issue #13). */
export type EntityStateView = z.infer<typeof entityStateSchema>;

/** What the OTK and channel state routes answer: a machine, an id, its state and context. */
export type LiveStateView = z.infer<typeof liveStateSchema>;

const otkBridge = machineBridge(otkMachine);

let model: ModelDescription | undefined;

function theModel(): ModelDescription {
  model ??= describe();
  return model;
}

/**
 * `channelOf` looks an open secure channel up by session id in the server's channel registry
 * (src/server/channels.ts), which lives in memory, not in a store.
 */
export function modelPageHandlers(
  parts: ServerParts,
  channelOf: (sessionId: string) => RegisteredChannel | undefined = () => undefined,
) {
  // Rendered once per app: the source links depend on this server's CPNS_SOURCE_URL.
  let page: ModelPage | undefined;
  const thePage = (): ModelPage => {
    page ??= renderModelPage(theModel(), { sourceUrl: parts.config.sourceUrl });
    return page;
  };

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

  /**
   * One simulation step (src/reviewer-page/simulate.ts). Reads nothing but the request and
   * writes nothing anywhere: the parts (stores, ledgers, logs) are not even in reach.
   */
  async function simulateStep(c: Context<ServerEnv>): Promise<Response> {
    const machineId = c.req.param("machineId") ?? "";
    const body = await readJson(c, z.unknown(), SIM_BODY_LIMIT);
    return c.json(simulate(machineId, body), 200, {
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
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

  /** The OTK machine rebuilt from the stored record through the gate; the sealed key stays out. */
  async function otkState(c: Context<ServerEnv>): Promise<Response> {
    if (c.var.principal.kind !== "admin") throw new CpnsError("ERR_FORBIDDEN");
    // An id of the wrong shape names nothing: the same 404 as an unknown one.
    const parsed = otkIdSchema.safeParse(c.req.param("otkId"));
    const record = parsed.success ? await parts.otks.get(parsed.data) : undefined;
    if (!record) throw new CpnsError("ERR_NOT_FOUND");
    const snapshot = otkBridge.restore(record.machine);
    const view: LiveStateView = {
      machine: otkMachine.id,
      id: record.otkId,
      value: snapshot.value,
      context: { ...snapshot.context },
    };
    return c.json(view, 200, { "cache-control": "no-store" });
  }

  /** The server end of an open secure channel: its lifecycle state, send epoch and expiry. */
  function channelState(c: Context<ServerEnv>): Response {
    if (c.var.principal.kind !== "admin") throw new CpnsError("ERR_FORBIDDEN");
    const sessionId = c.req.param("sessionId") ?? "";
    const channel = sessionId.length <= 64 ? channelOf(sessionId) : undefined;
    if (!channel) throw new CpnsError("ERR_NOT_FOUND");
    const view: LiveStateView = {
      machine: secureChannelServerMachine.id,
      id: sessionId,
      value: channel.endpoint.state,
      context: {
        sessionId,
        owner: channel.owner,
        sendEpoch: channel.endpoint.sendEpoch,
        expiresAtMs: channel.expiresAtMs,
      },
    };
    return c.json(view, 200, { "cache-control": "no-store" });
  }

  return {
    otkState,
    channelState,
    page: modelPage,
    icon,
    machines,
    xstate,
    simulate: simulateStep,
    entityState,
  };
}
