/**
 * The CPNS Server as a Hono app (seed 5.x.1-5.x.3): every route comes from the
 * policy table, behind the guard; every error is problem+json with a stable
 * code (the shared app shell, src/protocol/app-shell.ts). Web-standard only: the runtime entries (src/runtime/) serve `app.fetch`
 * on Node, Deno or workerd and supply storage, keys and the client address.
 *
 * Implements: SERVER-API
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { apiDocHandlers } from "../api-doc/serve.ts";
import { serverDocument } from "../api-doc/server-doc.ts";
import { MAX_RECORD_BYTES } from "../channel/http.ts";
import { DEFAULT_ALGORITHMS } from "../digest/index.ts";
import { problemResponse } from "../errors.ts";
import { shellApp, withShellErrors } from "../protocol/app-shell.ts";
import { DEFAULT_BODY_LIMIT } from "../protocol/body.ts";
import type { ServerInfo } from "../protocol/schemas.ts";
import { channelHandlers } from "./channels.ts";
import {
  type CpnsServerConfig,
  type CredentialData,
  createParts,
  type ServerEnv,
} from "./context.ts";
import { entityHandlers } from "./entities.ts";
import { createGuard, firstChallenges } from "./guard.ts";
import { modelPageHandlers } from "./model-page.ts";
import { otkHandlers } from "./otks.ts";
import { isAllowed, needsAuthentication, POLICY, type RouteId } from "./policy.ts";
import { userHandlers } from "./users.ts";

export type { CpnsServerConfig } from "./context.ts";

export function createServerApp(config: CpnsServerConfig): Hono<ServerEnv> {
  const parts = createParts(config);
  const guard = createGuard(parts);
  const users = userHandlers(parts);
  const entities = entityHandlers(parts, firstChallenges(parts));
  // The channel registry is read at request time, so `channels` below is defined by then.
  const model = modelPageHandlers(parts, (sessionId) => channels.registry.get(sessionId));
  const otks = otkHandlers(parts);
  const channels = channelHandlers(parts, async (request, principal) =>
    inner.fetch(request, { [CHANNEL_PRINCIPAL]: principal }),
  );

  const apiDoc = apiDocHandlers(() =>
    serverDocument({
      realm: config.realm,
      ...(config.algorithms ? { algorithms: config.algorithms } : {}),
      ...(config.nonceLifetimeSeconds ? { nonceLifetimeSeconds: config.nonceLifetimeSeconds } : {}),
    }),
  );

  const handlers: Record<RouteId, (c: Context<ServerEnv>) => Response | Promise<Response>> = {
    health: (c) => c.json({ status: "ok" }),
    info: (c) => {
      const info: ServerInfo = {
        service: "cpns",
        version: 1,
        realm: config.realm,
        algorithms: [...(config.algorithms ?? DEFAULT_ALGORITHMS)],
      };
      return c.json(info);
    },
    "admin.key": users.adminKey,
    "users.create": users.create,
    "users.list": users.list,
    "enrollments.create": entities.enroll,
    "entities.list": entities.list,
    "entities.get": entities.get,
    "entities.revoke": entities.revoke,
    whoami: entities.whoami,
    "otks.deposit": otks.deposit,
    "otks.inbox": otks.inbox,
    "otks.deliver": otks.deliver,
    "otks.consume": otks.consume,
    "channels.open": channels.open,
    "channels.send": channels.send,
    "model.page": model.page,
    "model.icon": model.icon,
    "model.machines": model.machines,
    "model.xstate": model.xstate,
    "api.document": () => apiDoc.document(),
    "api.page": () => apiDoc.page(),
    "model.simulate": model.simulate,
    "entities.state": model.entityState,
    "otks.state": model.otkState,
    "channels.state": model.channelState,
  };

  // The shell's ceiling: the largest body a route reads (a channel record, or a JSON body).
  const app = shellApp<ServerEnv>({
    maxBodyBytes: Math.max(config.bodyLimitBytes ?? DEFAULT_BODY_LIMIT, MAX_RECORD_BYTES),
  });
  for (const [route, policy] of Object.entries(POLICY) as Array<
    [RouteId, (typeof POLICY)[RouteId]]
  >) {
    app.on(policy.method, policy.path, guard(route), handlers[route]);
  }
  // What a secure channel's inner requests reach (seed 5.x.4): the same handlers and the
  // same policy table, as the entity that opened the channel. Only routes that need a
  // principal, and never the channel routes themselves.
  const inner = withShellErrors(new Hono<ServerEnv>());
  for (const [route, policy] of Object.entries(POLICY) as Array<
    [RouteId, (typeof POLICY)[RouteId]]
  >) {
    // Stryker disable next-line MethodExpression: equivalent: the channel handler refuses every inner target under /cpns/v1/channels (ERR_CHANNEL_NESTED) before it dispatches, so channel routes in the inner app are never reached
    if (!needsAuthentication(route) || route.startsWith("channels.")) continue;
    inner.on(policy.method, policy.path, channelGuard(route), handlers[route]);
  }

  return app;
}

/** Set only by the channel handler when it dispatches an inner request: unforgeable from outside. */
const CHANNEL_PRINCIPAL = Symbol("cpns.channel.principal");

/** The guard of inner requests: the channel already authenticated the entity; the policy still decides. */
function channelGuard(route: RouteId): MiddlewareHandler<ServerEnv> {
  return async function channelGuard(c, next) {
    // `inner` is local to createServerApp and its one caller, the channel handler, always passes
    // the principal: the check below is a second wall that no request can reach.
    // Stryker disable next-line OptionalChaining: equivalent: the env is always given (see above)
    const principal = (c.env as Record<symbol, CredentialData> | undefined)?.[CHANNEL_PRINCIPAL];
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: unreachable (see above)
    if (!principal) return problemResponse("ERR_FORBIDDEN");
    c.set("principal", principal);
    if (!isAllowed(route, principal.kind)) return problemResponse("ERR_FORBIDDEN");
    await next();
  };
}
