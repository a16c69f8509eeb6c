// Pure chat logic, no I/O: merging and de-duplicating messages, receipt marks, unread
// counts, contact ordering, and how times are shown. connection.ts keeps the state,
// app.tsx shows it; both lean on these functions, which logic.test.ts checks.

/** A chat message as the UI holds it: ids and times as numbers (they stay below 2^53). */
export interface Msg {
  id: number; // 0 while pending (not yet stored by the server)
  sender: string;
  recipient: string;
  clientMsgId: string;
  sentAtMs: number;
  serverAtMs: number;
  text: string;
  failed?: string; // the server refused it (PUBACK reason); never retried
}

export type Mark = "pending" | "failed" | "sent" | "delivered" | "read";

export type Presence = "online" | "away" | "offline";

export interface Contact {
  user: string;
  presence: Presence;
  lastSeenMs: number; // online: since when; offline: when the last device left; 0: never
  statusText: string;
  version: number;
}

/** Merges server messages into a conversation sorted by id; a known id is kept once. */
export function mergeMessages(existing: readonly Msg[], incoming: readonly Msg[]): Msg[] {
  const byId = new Map<number, Msg>();
  for (const m of existing) byId.set(m.id, m);
  for (const m of incoming) if (m.id > 0) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** Pending messages left once the server's copies are known (matched by client_msg_id). */
export function settlePending(pending: readonly Msg[], stored: readonly Msg[]): Msg[] {
  const ids = new Set(stored.map((m) => m.clientMsgId));
  return pending.filter((p) => !ids.has(p.clientMsgId));
}

/** The receipt mark of one of my messages, from the peer's watermarks. */
export function markFor(m: Msg, deliveredUpTo: number, readUpTo: number): Mark {
  if (m.failed) return "failed";
  if (m.id === 0) return "pending";
  if (m.id <= readUpTo) return "read";
  if (m.id <= Math.max(deliveredUpTo, readUpTo)) return "delivered";
  return "sent";
}

/** Unread messages from `peer` in what is loaded: id above my read watermark. */
export function countUnread(messages: readonly Msg[], peer: string, myReadUpTo: number): number {
  return messages.filter((m) => m.sender === peer && m.id > myReadUpTo).length;
}

/** The newest id among messages written by `author`, 0 when none. */
export function newestFrom(messages: readonly Msg[], author: string): number {
  let id = 0;
  for (const m of messages) if (m.sender === author && m.id > id) id = m.id;
  return id;
}

/** Whether a presence update should replace what is known (versions only grow). */
export function isNewerPresence(known: Contact | undefined, version: number): boolean {
  return !known || version === 0 || version >= known.version;
}

export interface ContactRow {
  contact: Contact;
  lastMessageId: number; // 0: no conversation yet
  unread: number;
}

const rank = (p: Presence) => (p === "online" ? 0 : p === "away" ? 1 : 2);

/**
 * Recent conversations first (newest message first), then contacts without a
 * conversation: online, then away, then offline; by name within each group. `me` (notes
 * to self) comes last.
 */
export function sortContacts(rows: readonly ContactRow[], me = ""): ContactRow[] {
  return [...rows].sort((a, b) => {
    if ((a.contact.user === me) !== (b.contact.user === me)) return a.contact.user === me ? 1 : -1;
    if (a.lastMessageId !== b.lastMessageId) return b.lastMessageId - a.lastMessageId;
    const r = rank(a.contact.presence) - rank(b.contact.presence);
    if (r !== 0) return r;
    return a.contact.user.localeCompare(b.contact.user);
  });
}

/** Case-insensitive substring filter on the user name. */
export function filterContacts(rows: readonly ContactRow[], query: string): ContactRow[] {
  const q = query.trim().toLowerCase();
  return q ? rows.filter((r) => r.contact.user.toLowerCase().includes(q)) : [...rows];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago", or a date. */
export function relativeTime(ms: number, now: number): string {
  const d = Math.max(0, now - ms);
  if (d < MINUTE) return "just now";
  if (d < HOUR) return `${Math.floor(d / MINUTE)} min ago`;
  if (d < DAY) return `${Math.floor(d / HOUR)} h ago`;
  const days = dayNumber(now) - dayNumber(ms);
  if (days <= 1) return "yesterday";
  if (days < 7) return `${days} days ago`;
  return `on ${new Date(ms).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })}`;
}

/** What a contact's status line says. */
export function presenceText(c: Contact, now: number): string {
  const status = c.statusText ? ` · ${c.statusText}` : "";
  if (c.presence === "online") return `online${status}`;
  if (c.presence === "away") return `away${status}`;
  if (!c.lastSeenMs) return "never seen";
  return `last seen ${relativeTime(c.lastSeenMs, now)}`;
}

/** Days since the epoch in local time: two times are the same day when these are equal. */
export function dayNumber(ms: number): number {
  const d = new Date(ms);
  return Math.floor((ms - d.getTimezoneOffset() * MINUTE) / DAY);
}

/** The label of a day separator: "Today", "Yesterday", or the date. */
export function dayLabel(ms: number, now: number): string {
  const days = dayNumber(now) - dayNumber(ms);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return new Date(ms).toLocaleDateString(undefined, {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
  });
}

/** "14:05" (the browser's locale decides 12 or 24 hours). */
export function timeOfDay(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** When a message happened, for display and day grouping: the server's time once stored. */
export const msgTime = (m: Msg) => m.serverAtMs || m.sentAtMs;

export type Row = { kind: "day"; key: string; label: string } | { kind: "msg"; key: string; msg: Msg };

/** Messages interleaved with day separators, in display order. */
export function withDaySeparators(messages: readonly Msg[], now: number): Row[] {
  const rows: Row[] = [];
  let day = Number.NaN;
  for (const m of messages) {
    const t = msgTime(m);
    const d = dayNumber(t);
    if (d !== day) {
      day = d;
      rows.push({ kind: "day", key: `day-${d}`, label: dayLabel(t, now) });
    }
    rows.push({ kind: "msg", key: m.id ? `id-${m.id}` : `cm-${m.clientMsgId}`, msg: m });
  }
  return rows;
}

/** Whether `user` is a name the protocol accepts (docs/protocol.md, Identity). */
export function validUserName(user: string): boolean {
  return user.length > 0 && !/[/+#]/.test(user) && !user.startsWith("$");
}
