/**
 * `npm run model:shot -- --url <page url> --out <file.png>` (issue #13): a screenshot of the
 * reviewer page with Debian's chromium (playwright-core, no browser downloaded), e.g. of a
 * watch link, /model?watch=otk:<id>. The admin token, when the link watches a live state, comes
 * from the environment (CPNS_ADMIN_TOKEN) and is put in the tab's sessionStorage for the page's
 * own origin before the page loads, as a reviewer's "keep the token" would: never in the URL.
 * It waits for the watched state to be highlighted (or for the page to say why not) and exits
 * 1 with the reason when the page cannot be shot.
 *
 * Options: --url (required), --out (default model.png), --width/--height (1440x900),
 * --full-page, --timeout <ms> (default 15000), --chromium <path> (default /usr/bin/chromium).
 *
 * Implements: PLAY-SHOT
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { TOKEN_STORAGE_KEY } from "../src/reviewer-page/page.ts";
import { CHROMIUM, CHROMIUM_ARGS } from "./chromium.ts";

function fail(message: string): never {
  process.stderr.write(`model:shot: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      out: { type: "string", default: "model.png" },
      width: { type: "string", default: "1440" },
      height: { type: "string", default: "900" },
      "full-page": { type: "boolean", default: false },
      timeout: { type: "string", default: "15000" },
      chromium: { type: "string", default: CHROMIUM },
    },
  });
  if (!values.url) fail("--url is required (e.g. http://127.0.0.1:8787/model?watch=otk:<id>)");
  let target: URL;
  try {
    target = new URL(values.url);
  } catch {
    fail("--url is not a URL");
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") fail("--url must be http(s)");
  const watch = target.searchParams.get("watch");
  const token = process.env.CPNS_ADMIN_TOKEN ?? "";
  if (watch && !token) fail("the URL watches a live state: set CPNS_ADMIN_TOKEN");
  if (!existsSync(values.chromium))
    fail(`${values.chromium} is missing (apt-get install chromium)`);
  const timeout = Number(values.timeout);

  const browser = await chromium.launch({ executablePath: values.chromium, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({
      viewport: { width: Number(values.width), height: Number(values.height) },
      ignoreHTTPSErrors: target.protocol === "https:",
    });
    if (token) {
      // Only for the page's own origin, and only in this throwaway browser's tab storage.
      await context.addInitScript(
        ({ origin, key, value }) => {
          if (location.origin === origin) sessionStorage.setItem(key, value);
        },
        { origin: target.origin, key: TOKEN_STORAGE_KEY, value: token },
      );
    }
    const page = await context.newPage();
    const res = await page.goto(target.href, { waitUntil: "load", timeout });
    if (!res?.ok()) fail(`GET ${target.pathname} answered ${res?.status() ?? "nothing"}`);
    if (watch) {
      // Highlighted, or the page said why not (unknown id, refused token).
      await page.waitForFunction(
        () =>
          document.querySelector("svg [data-state].live") !== null ||
          /known to this server|HTTP \d+/.test(
            document.getElementById("live-status")?.textContent ?? "",
          ),
        undefined,
        { timeout },
      );
      const status = (await page.locator("#live-status").textContent()) ?? "";
      const live = await page.locator("svg [data-state].live").count();
      await page.screenshot({ path: values.out, fullPage: values["full-page"] });
      process.stdout.write(`${values.out}: ${status.trim()}\n`);
      if (live === 0) fail(`nothing highlighted: ${status.trim()}`);
    } else {
      await page.screenshot({ path: values.out, fullPage: values["full-page"] });
      process.stdout.write(`${values.out}\n`);
    }
  } finally {
    await browser.close();
  }
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
