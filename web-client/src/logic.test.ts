// Unit tests of the pure chat logic (logic.ts): `npm test` in web-client/.
import { describe, expect, test } from "vitest";
import {
  countUnread,
  dayNumber,
  filterContacts,
  isNewerPresence,
  markFor,
  mergeMessages,
  newestFrom,
  presenceText,
  relativeTime,
  settlePending,
  sortContacts,
  validUserName,
  withDaySeparators,
  type Contact,
  type ContactRow,
  type Msg,
} from "./logic";

const msg = (id: number, sender = "bob", extra: Partial<Msg> = {}): Msg => ({
  id,
  sender,
  recipient: sender === "bob" ? "alice" : "bob",
  clientMsgId: `c${id}`,
  sentAtMs: 1_000 * id,
  serverAtMs: 1_000 * id,
  text: `m${id}`,
  ...extra,
});

const contact = (user: string, presence: Contact["presence"], lastSeenMs = 0): Contact => ({
  user,
  presence,
  lastSeenMs,
  statusText: "",
  version: 1,
});

describe("mergeMessages", () => {
  test("sorts by id and keeps each id once (a resend comes back with its first id)", () => {
    const merged = mergeMessages([msg(3), msg(1)], [msg(2), msg(3, "bob", { text: "again" }), msg(1)]);
    expect(merged.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(merged[2].text).toBe("again");
  });
  test("ignores unstored messages (id 0)", () => {
    expect(mergeMessages([], [msg(0)])).toEqual([]);
  });
});

describe("settlePending", () => {
  test("drops the pending messages the server stored, matched by client_msg_id", () => {
    const pending = [msg(0, "alice", { clientMsgId: "a" }), msg(0, "alice", { clientMsgId: "b" })];
    const left = settlePending(pending, [msg(7, "alice", { clientMsgId: "a" })]);
    expect(left.map((m) => m.clientMsgId)).toEqual(["b"]);
  });
});

describe("markFor (receipt watermarks)", () => {
  const mine = (id: number) => msg(id, "alice");
  test("pending, sent, delivered, read", () => {
    expect(markFor(mine(0), 10, 10)).toBe("pending");
    expect(markFor(mine(5), 4, 0)).toBe("sent");
    expect(markFor(mine(5), 5, 0)).toBe("delivered");
    expect(markFor(mine(5), 9, 5)).toBe("read");
  });
  test("read implies delivered even when no DELIVERED watermark came", () => {
    expect(markFor(mine(5), 0, 7)).toBe("read");
    expect(markFor(mine(8), 0, 7)).toBe("sent");
  });
  test("a refused message says so whatever the watermarks", () => {
    expect(markFor(msg(0, "alice", { failed: "not authorized" }), 10, 10)).toBe("failed");
  });
});

describe("unread", () => {
  const conv = [msg(1), msg(2, "alice"), msg(3), msg(4)];
  test("counts the peer's messages above my read watermark", () => {
    expect(countUnread(conv, "bob", 0)).toBe(3);
    expect(countUnread(conv, "bob", 3)).toBe(1);
    expect(countUnread(conv, "bob", 4)).toBe(0);
  });
  test("newestFrom", () => {
    expect(newestFrom(conv, "bob")).toBe(4);
    expect(newestFrom(conv, "alice")).toBe(2);
    expect(newestFrom(conv, "carol")).toBe(0);
  });
});

describe("presence", () => {
  test("versions only grow", () => {
    expect(isNewerPresence(undefined, 1)).toBe(true);
    expect(isNewerPresence(contact("bob", "online"), 2)).toBe(true);
    expect(isNewerPresence({ ...contact("bob", "online"), version: 5 }, 4)).toBe(false);
  });
  test("status lines", () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0);
    expect(presenceText(contact("bob", "online"), now)).toBe("online");
    expect(presenceText({ ...contact("bob", "away"), statusText: "lunch" }, now)).toBe("away · lunch");
    expect(presenceText(contact("bob", "offline", 0), now)).toBe("never seen");
    expect(presenceText(contact("bob", "offline", now - 5 * 60_000), now)).toBe("last seen 5 min ago");
  });
});

describe("relativeTime", () => {
  const now = new Date(2026, 10, 25, 15, 0, 0).getTime(); // local time
  test.each([
    [10_000, "just now"],
    [59_000, "just now"],
    [60_000, "1 min ago"],
    [59 * 60_000, "59 min ago"],
    [3 * 3_600_000, "3 h ago"],
  ])("%i ms ago: %s", (ago, text) => {
    expect(relativeTime(now - ago, now)).toBe(text);
  });
  test("days", () => {
    expect(relativeTime(new Date(2026, 10, 24, 9, 0).getTime(), now)).toBe("yesterday");
    expect(relativeTime(new Date(2026, 10, 21, 9, 0).getTime(), now)).toBe("4 days ago");
    expect(relativeTime(new Date(2026, 9, 1).getTime(), now)).toMatch(/^on /);
  });
  test("a clock behind the server's never says 'in the future'", () => {
    expect(relativeTime(now + 5_000, now)).toBe("just now");
  });
});

describe("day separators", () => {
  test("one per local day, in order", () => {
    const now = new Date(2026, 10, 25, 15, 0).getTime();
    const at = (d: number, h: number) => new Date(2026, 10, d, h, 0).getTime();
    const rows = withDaySeparators(
      [
        msg(1, "bob", { serverAtMs: at(23, 10) }),
        msg(2, "bob", { serverAtMs: at(24, 23) }),
        msg(3, "bob", { serverAtMs: at(25, 0) }),
        msg(4, "bob", { serverAtMs: at(25, 14) }),
        msg(0, "alice", { serverAtMs: 0, sentAtMs: at(25, 15), clientMsgId: "p" }),
      ],
      now,
    );
    expect(rows.map((r) => (r.kind === "day" ? r.label : r.key))).toEqual([
      expect.stringContaining("2026"),
      "id-1",
      "Yesterday",
      "id-2",
      "Today",
      "id-3",
      "id-4",
      "cm-p",
    ]);
    expect(dayNumber(at(25, 0))).toBe(dayNumber(at(25, 23)));
  });
});

describe("contact list", () => {
  const row = (c: Contact, lastMessageId = 0, unread = 0): ContactRow => ({ contact: c, lastMessageId, unread });
  test("recent conversations first, then online, away, offline, then by name", () => {
    const sorted = sortContacts([
      row(contact("zed", "online")),
      row(contact("amy", "offline")),
      row(contact("bob", "offline"), 3),
      row(contact("cat", "away")),
      row(contact("dan", "online"), 9),
      row(contact("eve", "online")),
    ]);
    expect(sorted.map((r) => r.contact.user)).toEqual(["dan", "bob", "eve", "zed", "cat", "amy"]);
  });
  test("me (notes to self) last, whatever my conversation", () => {
    const sorted = sortContacts([row(contact("me", "online"), 99), row(contact("amy", "offline"))], "me");
    expect(sorted.map((r) => r.contact.user)).toEqual(["amy", "me"]);
  });
  test("search is a case-insensitive substring", () => {
    const rows = [row(contact("Alice", "online")), row(contact("bob", "online")), row(contact("malik", "online"))];
    expect(filterContacts(rows, " LI ").map((r) => r.contact.user)).toEqual(["Alice", "malik"]);
    expect(filterContacts(rows, "")).toHaveLength(3);
  });
});

test("user names the protocol accepts", () => {
  expect(validUserName("alice")).toBe(true);
  expect(validUserName("")).toBe(false);
  expect(validUserName("a/b")).toBe(false);
  expect(validUserName("a+b")).toBe(false);
  expect(validUserName("a#")).toBe(false);
  expect(validUserName("$sys")).toBe(false);
});
