/**
 * The little of the Workers runtime's types this project uses (issue #11,
 * Cloudflare Workers target), declared here instead of adding
 * @cloudflare/workers-types: the module "cloudflare:workers" exists only
 * inside workerd, and only src/runtime/worker*.ts imports it.
 *
 * Implements: FLEET-WORKERS-DO
 */
declare module "cloudflare:workers" {
  export interface SqlCursor<T> extends Iterable<T> {
    toArray(): T[];
    one(): T;
    readonly rowsWritten: number;
  }
  export interface SqlStorage {
    exec<T = Record<string, string | number | null>>(
      query: string,
      ...bindings: (string | number | null)[]
    ): SqlCursor<T>;
  }
  export interface DurableObjectStorage {
    readonly sql: SqlStorage;
    transactionSync<T>(closure: () => T): T;
  }
  export interface DurableObjectState {
    readonly storage: DurableObjectStorage;
  }
  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
}
