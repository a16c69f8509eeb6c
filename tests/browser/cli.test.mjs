// A browser user (alice) and a terminal user (erin, the `natter` command-line client over
// MQTT/TCP) chat with each other through natter-server: both directions, unread badge,
// receipts from the terminal (✓ then ✓✓), and the terminal's presence in the browser.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as h from "./harness.mjs";

const USERS = { alice: "alice-pw-1", erin: "erin-pw-5" };

let server;
let browser;
let A;

/** Runs `natter` as erin with a private HOME; resolves {code, stdout, stderr}. */
function natter(args, { follow = false } = {}) {
  const cli = process.env.NATTER_CLI;
  if (!cli || !existsSync(cli)) throw new Error(`NATTER_CLI (the natter binary) is not set or missing: ${cli}`);
  const env = {
    ...process.env,
    NATTER_PASSWORD: USERS.erin,
    HOME: server.dir,
    XDG_CONFIG_HOME: `${server.dir}/config`,
    XDG_STATE_HOME: `${server.dir}/state`,
    NO_COLOR: "1",
  };
  const all = ["-h", "127.0.0.1", "-p", String(server.mqttPort), "-u", "erin", "--device", "erin-term", ...args];
  const proc = spawn(cli, all, { env, stdio: ["ignore", "pipe", "pipe"] });
  const r = { proc, stdout: "", stderr: "", code: null };
  proc.stdout.on("data", (d) => (r.stdout += d));
  proc.stderr.on("data", (d) => (r.stderr += d));
  r.done = new Promise((ok) =>
    proc.on("exit", (code, sig) => {
      r.code = code ?? sig;
      ok(r);
    }),
  );
  if (follow) return r;
  const t = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  return r.done.then((x) => (clearTimeout(t), x));
}

const jsonLines = (s) =>
  s
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

describe("browser and terminal", () => {
  before(async () => {
    server = await h.startServer(USERS);
    browser = await h.launchBrowser();
    A = await h.newUserPage(browser);
    await h.signIn(A.page, server.url, "alice", USERS.alice);
  });
  after(async () => {
    if (A) assert.deepEqual(A.page.errors, []);
    await browser?.close();
    await server?.dispose();
  });

  const step = (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        console.error(`--- natter-server output (last 4000 chars):\n${server?.output.slice(-4000)}`);
        throw e;
      }
    });

  step("terminal -> browser", async () => {
    // erin's device gets its session (so what alice sends later waits for it).
    const first = await natter(["read", "--json"]);
    assert.equal(first.code, 0, first.stderr);

    const sent = await natter(["send", "--json", "alice", "hello from the terminal"]);
    assert.equal(sent.code, 0, sent.stderr);
    const [stored] = jsonLines(sent.stdout);
    assert.ok(stored.id > 0, sent.stdout);

    const badge = A.page.locator(`${h.contactSel("erin")} .badge`);
    await badge.waitFor({ timeout: h.WAIT });
    assert.equal(await badge.textContent(), "1");
    await h.openConversation(A.page, "erin");
    const m = await h.message(A.page, "hello from the terminal");
    assert.equal(await m.getAttribute("data-id"), String(stored.id));
  });

  step("browser -> terminal, with the terminal's receipts", async () => {
    await h.send(A.page, "hi erin, from the browser");
    await h.waitStatus(A.page, "hi erin, from the browser", "sent");
    const read = await natter(["read", "--json", "--mark-read", "--idle", "1"]);
    assert.equal(read.code, 0, read.stderr);
    const got = jsonLines(read.stdout);
    assert.deepEqual(
      got.map((x) => [x.sender, x.text]),
      [["alice", "hi erin, from the browser"]],
    );
    await h.waitStatus(A.page, "hi erin, from the browser", "read");
  });

  step("the terminal's presence shows in the browser; a live message reaches it", async () => {
    const follow = natter(["read", "--follow", "--json"], { follow: true });
    try {
      await h.waitPresence(A.page, "erin", "online");
      await h.send(A.page, "are you there?");
      await h.waitFor("the terminal to print it", async () => follow.stdout.includes("are you there?"));
      const last = jsonLines(follow.stdout).at(-1);
      assert.equal(last.sender, "alice");
      assert.equal(last.text, "are you there?");
      await h.waitStatus(A.page, "are you there?", "delivered");
    } finally {
      follow.proc.kill("SIGTERM");
      await follow.done;
    }
    await h.waitPresence(A.page, "erin", "offline");
    assert.equal(
      await A.page.locator(".log .msg .text").allTextContents().then((t) => t.join("|")),
      "hello from the terminal|hi erin, from the browser|are you there?",
    );
  });

  step("a long conversation pages backwards when scrolled to the top", async () => {
    const N = 60; // with the 3 above: more than one page (50)
    for (let i = 1; i <= N; i++) {
      const r = await natter(["send", "alice", `page test ${i}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    // A fresh browser for alice: nothing cached, the history comes in pages.
    const F = await h.newUserPage(browser);
    await h.signIn(F.page, server.url, "alice", USERS.alice);
    await h.openConversation(F.page, "erin");
    await h.message(F.page, `page test ${N}`);
    const count = () => F.page.locator(".log .msg").count();
    assert.equal(await count(), 50, "the newest page only");
    const log = F.page.locator(".log");
    const atBottom = await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 2);
    assert.ok(atBottom, "opened at the newest message");
    const firstShown = await F.page.locator(".log .msg .text").first().textContent();
    assert.equal(firstShown, `page test ${N - 49}`);

    await log.evaluate((el) => {
      el.scrollTop = 0;
    });
    await h.waitFor("the older page", async () => (await count()) === N + 3);
    assert.equal(await F.page.locator(".log .older").count(), 0, "no more to load");
    // The message that was on top is still where the reader left it: in view, near the top.
    const box = await (await h.message(F.page, firstShown)).first().boundingBox();
    const view = await log.boundingBox();
    assert.ok(box.y >= view.y && box.y < view.y + view.height / 2, `${JSON.stringify(box)} in ${JSON.stringify(view)}`);
    const texts = await F.page.locator(".log .msg .text").allTextContents();
    assert.deepEqual(texts.slice(0, 4), [
      "hello from the terminal",
      "hi erin, from the browser",
      "are you there?",
      "page test 1",
    ]);
    assert.equal(new Set(texts).size, texts.length, "each message once");
    await F.context.close();
  });
});
