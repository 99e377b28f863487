/**
 * A man in the middle on the way back, for tests of server authentication
 * (FFS-SERVER-AUTH): a transport over the real fetch that rewrites (or, when
 * `edit` answers null, drops) the Authentication-Info of every answer and
 * leaves everything else as received.
 */
import type { FetchLike } from "../src/digest/index.ts";

export function tamperAuthenticationInfo(edit: (info: string) => string | null): FetchLike {
  return async (request) => {
    const res = await fetch(request);
    const headers = new Headers(res.headers);
    const info = headers.get("authentication-info");
    if (info !== null) {
      const edited = edit(info);
      if (edited === null) headers.delete("authentication-info");
      else headers.set("authentication-info", edited);
    }
    return new Response(await res.arrayBuffer(), { status: res.status, headers });
  };
}
