/**
 * Issue #13 item 3: a device key store inside a git work tree that does not
 * ignore it is reported (src/runtime/node-git-guard.ts); the README's key
 * store folders are ignored by this repository's .gitignore.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/spec/outputs.ts";
import { unignoredWorkTree, workTreeOf } from "../../src/runtime/node-git-guard.ts";

const root = mkdtempSync(join(tmpdir(), "cpns-git-guard-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function gitInit(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const init = spawnSync("git", ["init", "--quiet", dir], { stdio: "ignore" });
  expect(init.status).toBe(0);
}

describe("[KEYSTORE-OUTSIDE-GIT] key stores inside a git work tree", () => {
  it("a key store in a work tree that does not ignore it is reported, with the tree's root", () => {
    const tree = join(root, "project");
    gitInit(tree);
    expect(workTreeOf(join(tree, "deep", "keys"))).toBe(tree);
    expect(unignoredWorkTree(join(tree, "keys"))).toBe(tree);
    expect(unignoredWorkTree(join(tree, "deep", "keys"))).toBe(tree);
  });

  it("an ignored key store, or one outside any work tree, is not", () => {
    const tree = join(root, "ignoring");
    gitInit(tree);
    writeFileSync(join(tree, ".gitignore"), "keys/\n.cpns-device-*/\n");
    expect(unignoredWorkTree(join(tree, "keys"))).toBeUndefined();
    expect(unignoredWorkTree(join(tree, ".cpns-device-pne"))).toBeUndefined();
    expect(unignoredWorkTree(join(tree, "other"))).toBe(tree);
    const outside = join(root, "plain", "keys");
    expect(workTreeOf(outside)).toBeUndefined();
    expect(unignoredWorkTree(outside)).toBeUndefined();
  });

  it("this repository ignores the default key store and the README's per-device ones", () => {
    for (const name of [".cpns-device", ".cpns-device-pne", ".cpns-device-gw"]) {
      expect(unignoredWorkTree(join(REPO_ROOT, name))).toBeUndefined();
    }
  });
});
