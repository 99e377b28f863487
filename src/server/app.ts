/**
 * The CPNS Server as a Hono app (seed 5.x.1-5.x.3): every route comes from the
 * policy table, behind the guard; every error is problem+json with a stable
 * code. Web-standard only: the runtime entries (src/runtime/) serve `app.fetch`
 * on Node, Deno or workerd and supply storage, keys and the client address.
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { DEFAULT_ALGORITHMS } from "../digest/index.ts";
import { errorToResponse, problemResponse } from "../errors.ts";
import type { ServerInfo } from "../protocol/schemas.ts";
import { type CpnsServerConfig, createParts, type ServerEnv } from "./context.ts";
import { entityHandlers } from "./entities.ts";
import { createGuard } from "./guard.ts";
import { modelPageHandlers } from "./model-page.ts";
import { otkHandlers } from "./otks.ts";
import { POLICY, type RouteId } from "./policy.ts";
import { userHandlers } from "./users.ts";

export type { CpnsServerConfig } from "./context.ts";

export function createServerApp(config: CpnsServerConfig): Hono<ServerEnv> {
  const parts = createParts(config);
  const guard = createGuard(parts);
  const users = userHandlers(parts);
  const entities = entityHandlers(parts);
  const model = modelPageHandlers(parts);
  const otks = otkHandlers(parts);

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
    "model.page": model.page,
    "model.icon": model.icon,
    "model.machines": model.machines,
    "entities.state": model.entityState,
  };

  const app = new Hono<ServerEnv>();
  for (const [route, policy] of Object.entries(POLICY) as Array<
    [RouteId, (typeof POLICY)[RouteId]]
  >) {
    app.on(policy.method, policy.path, guard(route), handlers[route]);
  }
  app.notFound(() => problemResponse("ERR_NOT_FOUND"));
  app.onError((err) => {
    if (err instanceof HTTPException) return err.getResponse();
    return errorToResponse(err);
  });
  return app;
}
