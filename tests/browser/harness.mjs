// Browser-test harness: a real natter-server (its own config, users and free loopback
// ports) serving the built web client, and Debian's Chromium driven by playwright-core.
//
// Environment (set by CMakeLists.txt here; defaults suit a run from the repository):
//   NATTER_SERVER   natter-server binary (required)
//   NATTER_PASSWD   natter-passwd binary (required)
//   NATTER_WEB_DIST the built web client (web-client/dist)
//   NATTER_CHROMIUM the browser (/usr/bin/chromium)
//   NATTER_SCREENSHOTS where screenshots go (docs/screenshots)
//
// Waiting rule: every wait is for a condition in the page or the process, bounded by WAIT;
// nothing asserts on how long anything took.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, "..", "..");
export const WAIT = Number(process.env.NATTER_BROWSER_WAIT ?? 15_000);

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (ctest sets it; see tests/browser/CMakeLists.txt)`);
  if (!existsSync(v)) throw new Error(`${name}=${v} does not exist`);
  return v;
}

export const WEB_DIST = process.env.NATTER_WEB_DIST ?? join(REPO, "web-client", "dist");
export const CHROMIUM = process.env.NATTER_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = process.env.NATTER_SCREENSHOTS ?? join(REPO, "docs", "screenshots");

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const SANITIZER = /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or `ms` pass. */
export async function waitFor(what, probe, ms = WAIT) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Starts natter-server with chat on, an MQTT listener and a WebSocket + HTTP listener
 * serving WEB_DIST, users from `users` ({name: password}), the shipped ACL, and a
 * persistent store in a temporary directory (so restart() keeps history).
 */
export async function startServer(users) {
  const server = required("NATTER_SERVER");
  const passwd = required("NATTER_PASSWD");
  if (!existsSync(join(WEB_DIST, "index.html")))
    throw new Error(`no web client in ${WEB_DIST}: run npm ci && npm run build in web-client/`);
  const dir = mkdtempSync(join(tmpdir(), "natter-browser-"));
  const pwfile = join(dir, "passwd");
  let first = true;
  for (const [user, pass] of Object.entries(users)) {
    execFileSync(passwd, [...(first ? ["-c"] : []), "-b", pwfile, user, pass]);
    first = false;
  }
  const mqttPort = await freePort();
  const wsPort = await freePort();
  const conf = join(dir, "natter.conf");
  writeFileSync(
    conf,
    [
      `listener ${mqttPort} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      "protocol websockets",
      `http_dir ${WEB_DIST}`,
      "allow_anonymous false",
      `password_file ${pwfile}`,
      `acl_file ${join(REPO, "packaging", "acl")}`,
      "chat_enabled true",
      "persistence true",
      `persistence_location ${dir}/`,
      "persistence_sync none",
      "",
    ].join("\n"),
  );
  const s = {
    dir,
    mqttPort,
    wsPort,
    url: `http://127.0.0.1:${wsPort}/`,
    proc: null,
    output: "",
    async start() {
      const proc = spawn(server, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
      this.proc = proc;
      const keep = (d) => {
        this.output += d.toString();
        if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
      };
      proc.stdout.on("data", keep);
      proc.stderr.on("data", keep);
      let exited = null;
      proc.on("exit", (code, sig) => (exited = { code, sig }));
      await waitFor("natter-server to answer /healthz", async () => {
        if (exited) throw new Error(`natter-server exited (${JSON.stringify(exited)}):\n${this.output}`);
        try {
          const r = await fetch(`${this.url}healthz`);
          return r.ok;
        } catch {
          return false;
        }
      });
    },
    async stop() {
      const proc = this.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode) return;
      const gone = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(t);
      this.proc = null;
      // An ASan/UBSan build reports at exit: that is a failure even if every page was fine.
      if (SANITIZER.test(this.output))
        throw new Error(`natter-server sanitizer report:\n${this.output.slice(-8000)}`);
    },
    async restart() {
      await this.stop();
      await this.start();
    },
    async dispose() {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await s.start();
  return s;
}

/** Debian's Chromium, headless; Playwright gives each launch a fresh --user-data-dir. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
}

export const WIDE = { width: 1024, height: 640 };
export const NARROW = { width: 390, height: 720 };

/** A new browser context (its own storage: another person's browser) and page. */
export async function newUserPage(browser, { viewport = WIDE, colorScheme = "light" } = {}) {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.dialogs = [];
  page.on("dialog", (d) => {
    page.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  return { context, page };
}

export async function signIn(page, url, user, password, { remember = false } = {}) {
  await page.goto(url);
  await page.fill('input[name="user"]', user);
  await page.fill('input[name="password"]', password);
  if (remember) await page.check('input[name="remember"]');
  await page.click('button[type="submit"]');
  await page.waitForSelector(".app .link-state[data-link=online]", { timeout: WAIT });
}

const q = (s) => JSON.stringify(s);
export const contactSel = (user) => `.contact[data-user=${q(user)}]`;

export async function waitPresence(page, user, presence) {
  await page.waitForSelector(`${contactSel(user)}[data-presence=${presence}]`, { timeout: WAIT });
}

export async function openConversation(page, user) {
  await page.click(contactSel(user));
  await page.waitForSelector(`.conversation[aria-label=${q(`Conversation with ${user}`)}]`, {
    timeout: WAIT,
  });
}

export async function send(page, text) {
  const box = page.locator(".composer textarea");
  await box.fill(text);
  await box.press("Enter");
}

/** The message bubble whose text is exactly `text` (waits for it). */
export async function message(page, text) {
  const loc = page.locator(".log .msg").filter({ has: page.locator(".text", { hasText: text }) });
  await loc.first().waitFor({ timeout: WAIT });
  return loc;
}

export async function waitStatus(page, text, status) {
  await waitFor(`"${text}" to be ${status}`, async () => {
    const loc = await message(page, text);
    return (await loc.first().getAttribute("data-status")) === status;
  });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
