// The web client in a real browser against a real natter-server (issue #9): sign-in,
// presence, messages both ways with delivered/read marks, typing, history after a reload,
// markup shown as text, the offline outbox across a server restart, narrow/wide/dark
// layouts (screenshots to docs/screenshots/).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as h from "./harness.mjs";

const USERS = { alice: "alice-pw-1", bob: "bob-pw-2", carol: "carol-pw-3", dave: "dave-pw-4" };

let server;
let browser;
const pages = [];

async function user(opts) {
  const p = await h.newUserPage(browser, opts);
  pages.push(p.page);
  return p;
}

describe("web client", () => {
  before(async () => {
    server = await h.startServer(USERS);
    browser = await h.launchBrowser();
  });
  after(async () => {
    for (const p of pages)
      assert.deepEqual(p.errors, [], "no uncaught error in any page");
    await browser?.close();
    await server?.dispose();
  });

  // When a step fails, the server's log says what it saw.
  const step = (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        console.error(`--- natter-server output (last 4000 chars):\n${server?.output.slice(-4000)}`);
        throw e;
      }
    });

  step("the server serves the built client gzipped, assets immutable", async () => {
    const index = await fetch(server.url, { headers: { "accept-encoding": "gzip" } });
    assert.equal(index.status, 200);
    assert.equal(index.headers.get("content-encoding"), "gzip");
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const html = await index.text();
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/);
    assert.ok(js, `a hashed script in index.html: ${html}`);
    const asset = await fetch(new URL(js[1], server.url), { headers: { "accept-encoding": "gzip" } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get("content-encoding"), "gzip");
    assert.match(asset.headers.get("cache-control"), /immutable/);
  });

  step("a wrong password says so", async () => {
    const { page } = await user();
    await page.goto(server.url);
    await h.screenshot(page, "signin-wide");
    await page.fill('input[name="user"]', "alice");
    await page.fill('input[name="password"]', "not-her-password");
    await page.click('button[type="submit"]');
    const error = page.locator(".signin .error");
    await error.waitFor({ timeout: h.WAIT });
    assert.equal(await error.textContent(), "Wrong user name or password");
    assert.equal(await page.locator(".app").count(), 0, "still on the sign-in page");

    const dark = await user({ viewport: h.NARROW, colorScheme: "dark" });
    await dark.page.goto(server.url);
    await dark.page.locator(".signin form").waitFor();
    await h.screenshot(dark.page, "signin-narrow-dark");
    await dark.context.close();
  });

  let A; // alice, wide, for the rest of the file
  step("two users: presence, messages both ways, delivered and read, typing, offline", async () => {
    A = await user();
    const B = await user();
    await h.signIn(A.page, server.url, "alice", USERS.alice);
    await h.signIn(B.page, server.url, "bob", USERS.bob);
    await h.waitPresence(A.page, "bob", "online");
    await h.waitPresence(B.page, "alice", "online");
    // Everyone with a password is listed; the signed-in user last, for notes to self.
    await h.waitFor("everyone in alice's list", async () =>
      (await A.page.locator(".contact").count()) === 4);
    assert.deepEqual(await A.page.locator(".contact .name").allTextContents(), [
      "bob",
      "carol",
      "dave",
      "alice (you)",
    ]);
    assert.equal(
      await A.page.locator(`${h.contactSel("carol")} .sub`).textContent(),
      "never seen",
    );

    // alice -> bob: delivered as soon as bob's browser has it, read once he opens it.
    await h.openConversation(A.page, "bob");
    await h.send(A.page, "Hi Bob, lunch at noon?");
    await h.waitStatus(A.page, "Hi Bob, lunch at noon?", "delivered");
    assert.equal(
      await (await h.message(A.page, "Hi Bob, lunch at noon?")).locator(".mark").textContent(),
      "✓",
    );
    const badge = B.page.locator(`${h.contactSel("alice")} .badge`);
    await badge.waitFor({ timeout: h.WAIT });
    assert.equal(await badge.textContent(), "1");
    await h.screenshot(B.page, "contacts-wide");
    await h.openConversation(B.page, "alice");
    await h.message(B.page, "Hi Bob, lunch at noon?");
    await h.waitStatus(A.page, "Hi Bob, lunch at noon?", "read");
    assert.equal(
      await (await h.message(A.page, "Hi Bob, lunch at noon?")).locator(".mark").textContent(),
      "✓✓",
    );
    assert.equal(await badge.count(), 0, "bob's unread badge is gone");

    // bob types: alice sees it; bob -> alice arrives in her open conversation, read at once.
    await B.page.locator(".composer textarea").pressSequentially("Sure", { delay: 20 });
    await A.page.locator(".typing", { hasText: "bob is typing…" }).waitFor({ timeout: h.WAIT });
    await B.page.locator(".composer textarea").pressSequentially(", see you there", { delay: 5 });
    await B.page.locator(".composer textarea").press("Enter");
    await h.message(A.page, "Sure, see you there");
    await h.waitStatus(B.page, "Sure, see you there", "read");
    await h.waitFor("the typing notice to go", async () =>
      (await A.page.locator(".typing").textContent()) === "");
    assert.equal(await B.page.locator(".composer textarea").inputValue(), "", "composer cleared");

    // Shift+Enter is a new line; Enter sends.
    const box = A.page.locator(".composer textarea");
    await box.pressSequentially("line one");
    await box.press("Shift+Enter");
    await box.pressSequentially("line two");
    await box.press("Enter");
    const multi = await h.message(B.page, "line one");
    assert.equal(await multi.locator(".text").textContent(), "line one\nline two");
    await h.waitStatus(A.page, "line one\nline two", "read");

    // Each message once on each side, in order.
    const texts = async (p) => p.locator(".log .msg .text").allTextContents();
    const want = ["Hi Bob, lunch at noon?", "Sure, see you there", "line one\nline two"];
    assert.deepEqual(await texts(A.page), want);
    assert.deepEqual(await texts(B.page), want);
    assert.equal(await A.page.locator(".log .day").count(), 1);
    assert.equal(await A.page.locator(".log .day").textContent(), "Today");

    await h.screenshot(A.page, "conversation-wide");
    await A.page.emulateMedia({ colorScheme: "dark" });
    await h.screenshot(A.page, "conversation-wide-dark");
    await A.page.emulateMedia({ colorScheme: "light" });

    // Narrow: one screen at a time; Esc goes back to the list with focus on the contact.
    await B.page.setViewportSize(h.NARROW);
    assert.ok(await B.page.locator(".conversation").isVisible());
    assert.ok(!(await B.page.locator(".contacts").isVisible()), "list hidden behind the conversation");
    await h.screenshot(B.page, "conversation-narrow");
    await B.page.keyboard.press("Escape");
    await B.page.locator(".contacts").waitFor({ state: "visible" });
    assert.ok(!(await B.page.locator(".conversation").isVisible()));
    await h.waitFor("focus on alice's entry", async () =>
      (await B.page.evaluate(() => document.activeElement?.getAttribute("data-user"))) === "alice");
    await h.screenshot(B.page, "contacts-narrow");
    // Keyboard only: Enter on the focused contact opens it with the composer focused.
    await B.page.keyboard.press("Enter");
    await h.waitFor("composer focused", async () =>
      B.page.evaluate(() => document.activeElement?.matches(".composer textarea")));
    // The phone's Back button goes back to the list too.
    await B.page.goBack();
    await B.page.locator(".contacts").waitFor({ state: "visible" });
    assert.ok(!(await B.page.locator(".conversation").isVisible()));

    // bob's browser goes away: alice sees him offline.
    await B.page.close();
    await B.context.close();
    await h.waitPresence(A.page, "bob", "offline");
    assert.match(await A.page.locator(".conv-head .sub").textContent(), /^last seen just now$/);
  });

  step("reload: the conversation comes back from the server", async () => {
    await A.page.reload();
    // Not remembered: the sign-in form again.
    await A.page.locator(".signin form").waitFor({ timeout: h.WAIT });
    await A.page.fill('input[name="user"]', "alice");
    await A.page.fill('input[name="password"]', USERS.alice);
    await A.page.check('input[name="remember"]');
    await A.page.click('button[type="submit"]');
    await A.page.waitForSelector(".link-state[data-link=online]", { timeout: h.WAIT });
    await h.openConversation(A.page, "bob");
    const want = ["Hi Bob, lunch at noon?", "Sure, see you there", "line one\nline two"];
    await h.waitFor("history", async () =>
      (await A.page.locator(".log .msg .text").allTextContents()).length === want.length);
    assert.deepEqual(await A.page.locator(".log .msg .text").allTextContents(), want);
    await h.waitStatus(A.page, "line one\nline two", "read");
    await h.waitStatus(A.page, "Hi Bob, lunch at noon?", "read");

    // Remembered for this tab: a reload signs in by itself, and a draft survives it.
    await A.page.locator(".composer textarea").fill("a draft");
    await A.page.reload();
    await A.page.waitForSelector(".link-state[data-link=online]", { timeout: h.WAIT });
    assert.equal(await A.page.locator(".signin").count(), 0);
    await h.openConversation(A.page, "bob");
    assert.equal(await A.page.locator(".composer textarea").inputValue(), "a draft");
    await A.page.locator(".composer textarea").fill("");
    await h.message(A.page, "Sure, see you there");
  });

  step("markup in a message is shown as text", async () => {
    const evil = "<img src=x onerror=alert(1)>";
    await h.openConversation(A.page, "carol");
    await h.send(A.page, evil);
    await h.waitStatus(A.page, evil, "sent");
    const C = await user();
    await h.signIn(C.page, server.url, "carol", USERS.carol);
    await h.waitFor("an unread badge from alice", async () =>
      (await C.page.locator(`${h.contactSel("alice")} .badge`).count()) === 1);
    await h.openConversation(C.page, "alice");
    const got = await h.message(C.page, "onerror");
    assert.equal(await got.locator(".text").textContent(), evil);
    assert.equal(await C.page.locator(".log img").count(), 0);
    assert.equal(await A.page.locator(".log img").count(), 0);
    await h.waitStatus(A.page, evil, "read");
    assert.deepEqual(C.page.dialogs, []);
    assert.deepEqual(A.page.dialogs, []);
    await C.context.close();
  });

  step("search filters the contact list", async () => {
    await A.page.fill("#search", "DA");
    await h.waitFor("only dave", async () =>
      (await A.page.locator(".contact").allTextContents()).length === 1);
    assert.equal(await A.page.locator(".contact .name").textContent(), "dave");
    await A.page.fill("#search", "nobody");
    await A.page.locator(".contacts .hint").waitFor();
    await A.page.fill("#search", "");
    await h.waitFor("everyone back", async () => (await A.page.locator(".contact").count()) === 4);
  });

  step("notes to self", async () => {
    await h.openConversation(A.page, "alice");
    assert.equal(await A.page.locator(".conv-head h2").textContent(), "alice (you)");
    await h.send(A.page, "remember the milk");
    await h.waitStatus(A.page, "remember the milk", "sent");
    assert.deepEqual(await A.page.locator(".log .msg .text").allTextContents(), ["remember the milk"]);
    assert.equal(await A.page.locator(`${h.contactSel("alice")} .badge`).count(), 0);
  });

  step("messages written while the server is down wait in the outbox, then go once", async () => {
    await h.openConversation(A.page, "dave");
    await server.stop();
    await A.page.locator(".banner", { hasText: "Reconnecting" }).waitFor({ timeout: h.WAIT });
    assert.equal(await A.page.locator(".link-state").getAttribute("data-link"), "reconnecting");
    await h.send(A.page, "written while offline");
    await h.waitStatus(A.page, "written while offline", "pending");
    await A.page
      .locator(".banner", { hasText: "1 message will be sent when it is back" })
      .waitFor({ timeout: h.WAIT });
    assert.equal(await A.page.locator(".composer textarea").inputValue(), "");

    await server.start();
    await h.waitFor(
      "the pending message to be stored",
      async () =>
        (await (await h.message(A.page, "written while offline")).first().getAttribute("data-status")) === "sent",
      45_000,
    );
    assert.equal(await A.page.locator(".banner").isVisible(), false);
    assert.deepEqual(await A.page.locator(".log .msg .text").allTextContents(), ["written while offline"]);

    const D = await user({ viewport: h.NARROW });
    await h.signIn(D.page, server.url, "dave", USERS.dave);
    await h.openConversation(D.page, "alice");
    await h.message(D.page, "written while offline");
    assert.deepEqual(await D.page.locator(".log .msg .text").allTextContents(), ["written while offline"]);
    await h.waitStatus(A.page, "written while offline", "read");
    await D.context.close();
  });

  step("a second tab of the same browser takes the device over; the first one pauses", async () => {
    // One context = one browser profile: both tabs share the device's client id.
    const { context, page: tab1 } = await user();
    await h.signIn(tab1, server.url, "carol", USERS.carol);
    const tab2 = await context.newPage();
    pages.push(Object.assign(tab2, { errors: [], dialogs: [] }));
    tab2.on("pageerror", (e) => tab2.errors.push(String(e)));
    await h.signIn(tab2, server.url, "carol", USERS.carol);
    await tab1.locator(".banner", { hasText: "open in another tab" }).waitFor({ timeout: h.WAIT });
    assert.equal(await tab1.locator(".link-state").getAttribute("data-link"), "replaced");
    await h.waitPresence(A.page, "carol", "online");
    // Back in the first tab: it takes over, the second pauses.
    await tab1.click(".banner button");
    await tab1.waitForSelector(".link-state[data-link=online]", { timeout: h.WAIT });
    await tab2.locator(".banner", { hasText: "open in another tab" }).waitFor({ timeout: h.WAIT });
    assert.equal(await tab1.locator(".link-state").getAttribute("data-link"), "online");
    await context.close();
    await h.waitPresence(A.page, "carol", "offline");
  });

  step("an unreachable server is told apart from a wrong password", async () => {
    const { page } = await user();
    await page.goto(server.url);
    await page.fill('input[name="user"]', "alice");
    await page.fill('input[name="password"]', USERS.alice);
    await server.stop(); // last step: the page is loaded, its server gone
    await page.click('button[type="submit"]');
    const error = page.locator(".signin .error");
    await error.waitFor({ timeout: h.WAIT });
    assert.equal(await error.textContent(), "Cannot reach the server. Check your connection and try again.");
  });
});
