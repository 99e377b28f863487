/**
 * Issue #13 item 3: device key stores hold EUKeys, and a key store created
 * inside a git work tree (the README's peers story once put ./pne-device in
 * the project root) is one `git add .` away from a commit. The CLI asks this
 * module whether a key-store folder sits inside a work tree that does not
 * ignore it, and warns.
 *
 * Implements: KEYSTORE-OUTSIDE-GIT
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** The work tree's root when `dir` is inside one (found by its `.git` entry), else undefined. */
export function workTreeOf(dir: string): string | undefined {
  let current = resolve(dir);
  for (;;) {
    if (existsSync(join(current, ".git"))) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/**
 * The work tree that would track files of `dir`: inside a work tree and not
 * ignored by it (`git check-ignore`, so .gitignore, .git/info/exclude and the
 * global excludes all count). When git itself cannot answer, the folder counts
 * as tracked: a warning too many is cheaper than a key in a commit.
 */
export function unignoredWorkTree(dir: string): string | undefined {
  const root = workTreeOf(dir);
  if (!root) return undefined;
  // A file name inside the folder: `dir/` patterns match only what is in the folder.
  const probe = relative(root, join(resolve(dir), "key.json"));
  const check = spawnSync("git", ["-C", root, "check-ignore", "--quiet", "--", probe], {
    stdio: "ignore",
    timeout: 5_000,
  });
  return check.status === 0 ? undefined : root;
}
