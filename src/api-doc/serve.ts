/**
 * Issue #13: how an app serves its API document (GET /openapi.json) and its page (GET /api).
 * Both are public and static for a running app, so each is built once, on first request.
 *
 * Implements: OPENAPI-DOC, OPENAPI-PAGE
 */
import type { OpenApiDocument } from "./build.ts";
import { type ApiPage, renderApiPage } from "./page.ts";

export interface ApiDocHandlers {
  document(): Response;
  page(): Response;
}

export function apiDocHandlers(build: () => OpenApiDocument): ApiDocHandlers {
  let text: string | undefined;
  let page: ApiPage | undefined;
  const documentText = () => {
    text ??= JSON.stringify(build());
    return text;
  };
  return {
    document() {
      return new Response(documentText(), {
        status: 200,
        headers: {
          "content-type": "application/json",
          "x-content-type-options": "nosniff",
          "cache-control": "no-cache",
        },
      });
    },
    page() {
      page ??= renderApiPage(JSON.parse(documentText()) as OpenApiDocument);
      return new Response(page.html, {
        status: 200,
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": page.csp,
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
          "cache-control": "no-cache",
        },
      });
    },
  };
}
