// The one connection module: MQTT 5 over WebSocket to the page's own server, speaking
// docs/protocol.md with the protobuf payloads generated from protocol/chat (src/gen/).
//
// ChatClient owns every piece of chat state (contacts, conversations, outbox, drafts) and
// calls `onChange` when any of it changed; app.tsx only reads it and calls methods.
// Invariants:
//  - a conversation's `messages` are stored messages, sorted by id, each id once;
//    `pending` are mine not yet stored, matched to the server's copy by client_msg_id;
//  - the outbox (every pending message) and drafts live in sessionStorage, so a reload
//    or a lost connection loses neither; pending messages are sent on every (re)connect
//    and the server stores a client_msg_id only once;
//  - receipts are watermarks: sent only when they raise what this connection already sent.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  EnvelopeSchema,
  PresenceSchema,
  PresenceState,
  ReceiptKind,
  type ChatMessage,
  type ConversationsResponse,
  type HistoryResponse,
  type Receipt,
  type Typing,
} from "./gen/natter/chat/v1/chat_pb";
import {
  countUnread,
  isNewerPresence,
  mergeMessages,
  newestFrom,
  settlePending,
  sortContacts,
  type Contact,
  type ContactRow,
  type Msg,
  type Presence,
} from "./logic";

export type Link = "connecting" | "online" | "reconnecting" | "replaced" | "stopped";

export interface Failure {
  kind: "auth" | "unreachable" | "refused";
  text: string;
}

export interface Conv {
  peer: string;
  messages: Msg[];
  pending: Msg[];
  loaded: boolean; // the newest page has been fetched
  hasMore: boolean; // older messages exist on the server
  loadingOlder: boolean;
  error: string;
  lastMessage?: Msg;
  unread: number;
  peerDeliveredUpTo: number; // of my messages, by peer
  peerReadUpTo: number;
  myReadUpTo: number; // of peer's messages, by me (any of my devices)
  typingUntil: number; // peer is typing until then (ms), 0: not typing
}

const SESSION_EXPIRY_S = 7 * 24 * 3600;
const KEEPALIVE_S = 30;
const TYPING_REFRESH_MS = 3000;
const TYPING_IDLE_MS = 5000;
const TYPING_SHOWN_MS = 6000;
const HISTORY_PAGE = 50;
const MAX_RECONNECT_MS = 10_000;
export const MAX_TEXT_BYTES = 16384;

type EnvelopeInit = MessageInitShape<typeof EnvelopeSchema>;

// --- storage (may be unavailable: private modes, quotas); losing it only loses comfort
function load<T>(store: Storage, key: string, fallback: T): T {
  try {
    const v = store.getItem(key);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}
function save(store: Storage, key: string, value: unknown) {
  try {
    if (value === undefined) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    /* storage full or disabled */
  }
}

function randomHex(bytes: number): string {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a); // works on plain http too, unlike crypto.randomUUID
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One stable client id per browser and user: the server keeps this device's session. */
function clientIdFor(user: string): string {
  const key = `natter.clientId.${user}`;
  let id = load<string>(localStorage, key, "");
  if (!id) {
    id = `web-${randomHex(8)}`;
    save(localStorage, key, id);
  }
  return id;
}

export function brokerUrl(loc: Location = location): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/mqtt`;
}

const toMsg = (m: ChatMessage): Msg => ({
  id: Number(m.id),
  sender: m.sender,
  recipient: m.recipient,
  clientMsgId: m.clientMsgId,
  sentAtMs: Number(m.sentAtMs),
  serverAtMs: Number(m.serverAtMs),
  text: m.text,
});

const presenceOf = (s: PresenceState): Presence =>
  s === PresenceState.ONLINE ? "online" : s === PresenceState.AWAY ? "away" : "offline";

const reasonText: Record<number, string> = {
  0x87: "not authorized",
  0x97: "quota exceeded",
  0x99: "refused by the server (invalid message)",
};

export class ChatClient {
  readonly me: string;
  readonly clientId: string;
  link: Link = "connecting";
  failure: Failure | null = null;
  everConnected = false;
  contacts = new Map<string, Contact>();
  convs = new Map<string, Conv>();
  openPeer: string | null = null;
  visible = typeof document === "undefined" || document.visibilityState === "visible";

  private client: MqttClient | null = null;
  private readonly password: string;
  private readonly keepTrying: boolean; // a remembered sign-in retries an unreachable server
  private requestSeq = 0;
  private requests = new Map<string, { peer: string; beforeId: number }>();
  private sentThisLink = new Set<string>(); // client_msg_ids published on this connection
  private deliveredSent = new Map<string, number>();
  private readSent = new Map<string, number>();
  private typingSentAt = new Map<string, number>();
  private typingIdle = new Map<string, ReturnType<typeof setTimeout>>();
  private drafts: Record<string, string>;
  private changeQueued = false;
  private reconnectDelay = 1000;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    user: string,
    password: string,
    opts: { keepTrying: boolean },
    private readonly onChange: () => void,
  ) {
    this.me = user;
    this.password = password;
    this.keepTrying = opts.keepTrying;
    this.clientId = clientIdFor(user);
    this.drafts = load(sessionStorage, this.draftsKey, {});
    for (const m of load<Msg[]>(sessionStorage, this.outboxKey, [])) this.conv(m.recipient).pending.push(m);
  }

  private get outboxKey() {
    return `natter.outbox.${this.me}`;
  }
  private get draftsKey() {
    return `natter.drafts.${this.me}`;
  }
  private get inbox() {
    return `chat/${this.me}/inbox`;
  }
  private get replyTopic() {
    return `chat/${this.me}/reply/${this.clientId}`;
  }
  get connected() {
    return this.link === "online" && !!this.client?.connected;
  }

  start() {
    const will = toBinary(PresenceSchema, create(PresenceSchema, { state: PresenceState.OFFLINE }));
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: this.clientId,
      username: this.me,
      password: this.password,
      clean: false,
      keepalive: KEEPALIVE_S,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
      will: {
        topic: `presence/${this.me}/${this.clientId}`,
        payload: will as unknown as Buffer,
        qos: 1,
        retain: false,
      },
      reconnectPeriod: this.reconnectDelay,
      connectTimeout: 10_000,
      resubscribe: false, // subscribed again on every connect, below
      reconnectOnConnackError: false,
    };
    const c = mqtt.connect(brokerUrl(), options);
    this.client = c;
    c.on("connect", () => this.onConnect());
    c.on("reconnect", () => {
      // Back off (1, 2, 4, 8, 10 s), with jitter so a restarted server is not stormed.
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_MS);
      c.options.reconnectPeriod = Math.round(this.reconnectDelay * (0.75 + Math.random() / 2));
      this.setLink(this.everConnected ? "reconnecting" : "connecting");
    });
    c.on("close", () => this.onClose());
    c.on("disconnect", (packet) => {
      // [MQTT-3.14] v5: 0x8E Session taken over: this browser's other tab took this
      // device's client id. Reconnecting would only take it back: stop here.
      if (packet.reasonCode === 0x8e) this.halt("replaced", null);
    });
    c.on("error", (err: Error & { code?: number }) => this.onError(err));
    c.on("message", (topic, payload) => this.onMessage(topic, payload));
    if (typeof document !== "undefined")
      document.addEventListener("visibilitychange", this.onVisibility);
  }

  /** Ends the connection. signOut also drops the server's session and this tab's data. */
  stop(signOut: boolean) {
    if (signOut) {
      this.client?.end(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      save(sessionStorage, this.outboxKey, undefined);
      save(sessionStorage, this.draftsKey, undefined);
    } else {
      this.client?.end(true);
    }
    this.client = null;
    if (this.timer) clearTimeout(this.timer);
    if (typeof document !== "undefined")
      document.removeEventListener("visibilitychange", this.onVisibility);
    this.link = "stopped";
  }

  /** After "replaced": take this device back from the other tab. */
  resume() {
    if (this.link !== "replaced") return;
    this.failure = null;
    this.setLink("reconnecting");
    this.start();
  }

  // ---------------------------------------------------------------- connection events

  private onConnect() {
    this.everConnected = true;
    this.failure = null;
    this.reconnectDelay = 1000;
    if (this.client) this.client.options.reconnectPeriod = this.reconnectDelay;
    this.sentThisLink.clear();
    this.deliveredSent.clear();
    this.readSent.clear();
    this.typingSentAt.clear();
    for (const conv of this.convs.values()) conv.loadingOlder = false; // answers lost with the link
    this.setLink("online");
    const c = this.client;
    if (!c) return;
    c.subscribe(
      { [this.inbox]: { qos: 1 }, [this.replyTopic]: { qos: 1 }, "presence/+": { qos: 1 } },
      (err) => {
        if (err || c !== this.client) return;
        this.publishPresence(PresenceState.ONLINE);
        this.requestConversations();
        for (const conv of this.convs.values())
          if (conv.loaded || conv.peer === this.openPeer) this.requestHistory(conv.peer, 0);
        this.flushOutbox();
      },
    );
  }

  private onClose() {
    if (this.link === "stopped" || this.link === "replaced") return;
    if (!this.everConnected && !this.keepTrying && !this.failure) {
      this.halt("stopped", {
        kind: "unreachable",
        text: "Cannot reach the server. Check your connection and try again.",
      });
      return;
    }
    if (!this.everConnected && this.keepTrying && !this.failure)
      this.failure = { kind: "unreachable", text: "Cannot reach the server: retrying…" };
    this.setLink(this.everConnected ? "reconnecting" : "connecting");
  }

  private onError(err: Error & { code?: number }) {
    const code = err.code;
    if (code === 0x86 || code === 0x87 || code === 0x8c) {
      // v5 CONNACK: bad user name or password / not authorized / bad authentication method
      this.halt("stopped", { kind: "auth", text: "Wrong user name or password" });
    } else if (code === 0x85 && !this.everConnected) {
      // Client identifier not valid: forget ours and start again with a fresh one.
      save(localStorage, `natter.clientId.${this.me}`, undefined);
      this.halt("stopped", { kind: "refused", text: "The server refused this device; please sign in again" });
    } else if (typeof code === "number" && code >= 0x80) {
      // Other CONNACK refusals (server busy, unavailable, quota...): try again later.
      this.failure = { kind: "refused", text: `The server refused the connection (${err.message})` };
      this.setLink(this.everConnected ? "reconnecting" : "connecting");
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.client?.reconnect(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_MS);
    }
    // Socket errors are followed by "close", which decides.
  }

  private halt(link: "stopped" | "replaced", failure: Failure | null) {
    this.failure = failure;
    this.client?.end(true);
    this.client = null;
    this.setLink(link);
  }

  private setLink(link: Link) {
    this.link = link;
    this.changed();
  }

  private onVisibility = () => {
    this.visible = document.visibilityState === "visible";
    if (this.visible && this.openPeer) this.markRead(this.openPeer);
    this.changed();
  };

  /** Coalesces many state changes (a burst of retained presence) into one render. */
  private changed() {
    if (this.changeQueued) return;
    this.changeQueued = true;
    queueMicrotask(() => {
      this.changeQueued = false;
      this.onChange();
    });
  }

  // ---------------------------------------------------------------- publishing

  private publish(
    envelope: EnvelopeInit,
    qos: 0 | 1,
    props?: { responseTopic: string },
    done?: (err?: Error & { code?: number }) => void,
  ) {
    const c = this.client;
    if (!c || !this.connected) return false;
    const payload = toBinary(EnvelopeSchema, create(EnvelopeSchema, envelope));
    c.publish(
      `chat/${this.me}/outbox`,
      payload as unknown as Buffer,
      props ? { qos, properties: props } : { qos },
      (err) => done?.(err as (Error & { code?: number }) | undefined),
    );
    return true;
  }

  private publishPresence(state: PresenceState) {
    const payload = toBinary(PresenceSchema, create(PresenceSchema, { state }));
    this.client?.publish(`presence/${this.me}/${this.clientId}`, payload as unknown as Buffer, {
      qos: 1,
      retain: false,
    });
  }

  private requestConversations() {
    const requestId = `r${++this.requestSeq}`;
    this.publish({ kind: { case: "conversationsRequest", value: { requestId } } }, 1, {
      responseTopic: this.replyTopic,
    });
  }

  private requestHistory(peer: string, beforeId: number) {
    const requestId = `r${++this.requestSeq}`;
    const value = { peer, beforeId: BigInt(beforeId), limit: HISTORY_PAGE, requestId };
    if (this.publish({ kind: { case: "historyRequest", value } }, 1, { responseTopic: this.replyTopic }))
      this.requests.set(requestId, { peer, beforeId });
  }

  private flushOutbox() {
    for (const conv of this.convs.values())
      for (const m of conv.pending) if (!m.failed) this.publishMessage(m);
  }

  private publishMessage(m: Msg) {
    if (this.sentThisLink.has(m.clientMsgId)) return;
    const sent = this.publish(
      {
        kind: {
          case: "message",
          value: {
            recipient: m.recipient,
            clientMsgId: m.clientMsgId,
            sentAtMs: BigInt(m.sentAtMs),
            text: m.text,
          },
        },
      },
      1,
      undefined,
      (err) => {
        if (!err) return;
        if (typeof err.code === "number" && err.code >= 0x80) {
          m.failed = reasonText[err.code] ?? err.message;
          this.saveOutbox();
          this.changed();
        } else {
          this.sentThisLink.delete(m.clientMsgId); // connection lost: resent on reconnect
        }
      },
    );
    if (sent) this.sentThisLink.add(m.clientMsgId);
  }

  private sendReceipt(kind: ReceiptKind, peer: string, upTo: number) {
    const sent = kind === ReceiptKind.READ ? this.readSent : this.deliveredSent;
    if (upTo <= (sent.get(peer) ?? 0)) return;
    if (this.publish({ kind: { case: "receipt", value: { kind, peer, upToId: BigInt(upTo) } } }, 1))
      sent.set(peer, upTo);
  }

  // ---------------------------------------------------------------- incoming

  private onMessage(topic: string, payload: Uint8Array) {
    try {
      if (topic.startsWith("presence/")) {
        const parts = topic.split("/");
        if (parts.length === 2) this.onPresence(parts[1], payload);
      } else if (topic === this.inbox || topic.startsWith(`chat/${this.me}/reply/`)) {
        const env = fromBinary(EnvelopeSchema, payload);
        switch (env.kind.case) {
          case "message":
            this.onChatMessage(toMsg(env.kind.value));
            break;
          case "receipt":
            this.onReceipt(env.kind.value);
            break;
          case "typing":
            this.onTyping(env.kind.value);
            break;
          case "historyResponse":
            this.onHistory(env.kind.value);
            break;
          case "conversationsResponse":
            this.onConversations(env.kind.value);
            break;
        }
      }
    } catch (e) {
      console.warn(`natter: ignoring a bad payload on ${topic}`, e);
    }
    this.changed();
  }

  private onPresence(user: string, payload: Uint8Array) {
    if (payload.length === 0) {
      this.contacts.delete(user); // retained presence cleared: the user is gone
      return;
    }
    const p = fromBinary(PresenceSchema, payload);
    const version = Number(p.version);
    if (!isNewerPresence(this.contacts.get(user), version)) return;
    this.contacts.set(user, {
      user,
      presence: presenceOf(p.state),
      lastSeenMs: Number(p.lastSeenMs),
      statusText: p.statusText,
      version,
    });
  }

  conv(peer: string): Conv {
    let c = this.convs.get(peer);
    if (!c) {
      c = {
        peer,
        messages: [],
        pending: [],
        loaded: false,
        hasMore: false,
        loadingOlder: false,
        error: "",
        unread: 0,
        peerDeliveredUpTo: 0,
        peerReadUpTo: 0,
        myReadUpTo: 0,
        typingUntil: 0,
      };
      this.convs.set(peer, c);
    }
    return c;
  }

  private lastId(c: Conv) {
    return Math.max(c.lastMessage?.id ?? 0, c.messages.length ? c.messages[c.messages.length - 1].id : 0);
  }

  private noteLast(c: Conv, m: Msg) {
    if (!c.lastMessage || m.id >= c.lastMessage.id) c.lastMessage = m;
  }

  private onChatMessage(m: Msg) {
    if (m.id <= 0) return;
    const peer = m.sender === this.me ? m.recipient : m.sender;
    const c = this.conv(peer);
    const isNew = m.id > this.lastId(c);
    c.messages = mergeMessages(c.messages, [m]);
    this.settle(c, [m]);
    this.noteLast(c, m);
    if (m.sender !== this.me) {
      c.typingUntil = 0;
      if (isNew && m.id > c.myReadUpTo) c.unread++;
      this.sendReceipt(ReceiptKind.DELIVERED, peer, m.id);
      this.markRead(peer);
    }
  }

  private settle(c: Conv, stored: Msg[]) {
    const before = c.pending.length;
    c.pending = settlePending(c.pending, stored);
    if (c.pending.length !== before) this.saveOutbox();
  }

  private onReceipt(r: Receipt) {
    const upTo = Number(r.upToId);
    if (r.reader !== this.me) {
      // The peer acknowledges my messages.
      const c = this.conv(r.reader);
      if (r.kind === ReceiptKind.DELIVERED) c.peerDeliveredUpTo = Math.max(c.peerDeliveredUpTo, upTo);
      if (r.kind === ReceiptKind.READ) c.peerReadUpTo = Math.max(c.peerReadUpTo, upTo);
      return;
    }
    if (r.kind !== ReceiptKind.READ || r.peer === this.me) return;
    // Another device of mine read the conversation: its unread count goes.
    const c = this.conv(r.peer);
    if (upTo <= c.myReadUpTo) return;
    c.myReadUpTo = upTo;
    if (upTo >= this.lastId(c)) c.unread = 0;
    else if (c.loaded && (!c.hasMore || (c.messages[0]?.id ?? 0) <= upTo))
      c.unread = countUnread(c.messages, c.peer, upTo);
    else this.requestConversations();
  }

  private onTyping(t: Typing) {
    if (t.sender === this.me) return;
    const c = this.conv(t.sender);
    c.typingUntil = t.active ? Date.now() + TYPING_SHOWN_MS : 0;
    if (t.active) setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
  }

  private onHistory(h: HistoryResponse) {
    const req = this.requests.get(h.requestId);
    this.requests.delete(h.requestId);
    const c = this.conv(h.peer || req?.peer || "");
    if (req && req.beforeId > 0) c.loadingOlder = false;
    if (h.error) {
      c.error = h.error;
      return;
    }
    c.error = "";
    const page = h.messages.map(toMsg); // newest first
    const pageMin = page.length ? page[page.length - 1].id : 0;
    const newest = !req || req.beforeId === 0;
    // A newest page that does not reach what is cached leaves a gap: start again from it.
    if (newest && page.length && h.hasMore && c.messages.length && pageMin > this.lastId(c))
      c.messages = [];
    const prevOldest = c.messages.length ? c.messages[0].id : Infinity;
    c.messages = mergeMessages(c.messages, page);
    if (page.length === 0 ? !newest || c.messages.length === 0 : pageMin <= prevOldest)
      c.hasMore = h.hasMore;
    c.loaded = true;
    c.peerDeliveredUpTo = Math.max(c.peerDeliveredUpTo, Number(h.peerDeliveredUpTo));
    c.peerReadUpTo = Math.max(c.peerReadUpTo, Number(h.peerReadUpTo));
    c.myReadUpTo = Math.max(c.myReadUpTo, Number(h.myReadUpTo));
    this.settle(c, page);
    if (page.length) this.noteLast(c, page[0]);
    if (!c.hasMore || (c.messages[0]?.id ?? 0) <= c.myReadUpTo)
      c.unread = countUnread(c.messages, c.peer, c.myReadUpTo);
    const fromPeer = newestFrom(page, c.peer);
    if (fromPeer && c.peer !== this.me) this.sendReceipt(ReceiptKind.DELIVERED, c.peer, fromPeer);
    this.markRead(c.peer);
  }

  private onConversations(r: ConversationsResponse) {
    for (const cv of r.conversations) {
      const c = this.conv(cv.peer);
      if (cv.lastMessage) {
        const m = toMsg(cv.lastMessage);
        this.noteLast(c, m);
        this.settle(c, [m]);
        if (m.sender === cv.peer && cv.peer !== this.me)
          this.sendReceipt(ReceiptKind.DELIVERED, cv.peer, m.id);
      }
      c.unread = cv.unreadCount;
      c.peerDeliveredUpTo = Math.max(c.peerDeliveredUpTo, Number(cv.peerDeliveredUpTo));
      c.peerReadUpTo = Math.max(c.peerReadUpTo, Number(cv.peerReadUpTo));
      c.myReadUpTo = Math.max(c.myReadUpTo, Number(cv.myReadUpTo));
    }
    if (this.openPeer) this.markRead(this.openPeer);
  }

  // ---------------------------------------------------------------- UI actions

  /** Every user to chat with (retained presence and conversations), sorted; me last. */
  contactRows(): ContactRow[] {
    const users = new Set([...this.contacts.keys(), ...this.convs.keys()]);
    const rows: ContactRow[] = [];
    for (const user of users) {
      const c = this.convs.get(user);
      rows.push({
        contact: this.contacts.get(user) ?? { user, presence: "offline", lastSeenMs: 0, statusText: "", version: 0 },
        lastMessageId: c ? this.lastId(c) : 0,
        unread: c?.unread ?? 0,
      });
    }
    return sortContacts(rows, this.me);
  }

  open(peer: string | null) {
    if (this.openPeer && this.openPeer !== peer) this.stopTyping(this.openPeer);
    this.openPeer = peer;
    if (peer) {
      const c = this.conv(peer);
      if (!c.loaded) this.requestHistory(peer, 0);
      this.markRead(peer);
    }
    this.changed();
  }

  /** Sends READ up to the newest message from peer, when its conversation is in view. */
  markRead(peer: string) {
    if (peer !== this.openPeer || !this.visible || peer === this.me) return;
    const c = this.conv(peer);
    const upTo = newestFrom(c.messages, peer);
    c.unread = 0;
    if (upTo > c.myReadUpTo) c.myReadUpTo = upTo;
    if (upTo > 0) this.sendReceipt(ReceiptKind.READ, peer, upTo);
  }

  loadOlder(peer: string) {
    const c = this.conv(peer);
    if (!c.hasMore || c.loadingOlder || !this.connected || !c.messages.length) return;
    c.loadingOlder = true;
    this.requestHistory(peer, c.messages[0].id);
    this.changed();
  }

  /** Queues a message (shown as pending) and sends it now when connected. */
  send(peer: string, text: string): string | null {
    if (!text.trim()) return "Nothing to send";
    if (new TextEncoder().encode(text).length > MAX_TEXT_BYTES)
      return `Too long: a message holds at most ${MAX_TEXT_BYTES} bytes`;
    const m: Msg = {
      id: 0,
      sender: this.me,
      recipient: peer,
      clientMsgId: `${this.clientId}:${Date.now().toString(36)}:${randomHex(4)}`,
      sentAtMs: Date.now(),
      serverAtMs: 0,
      text,
    };
    this.conv(peer).pending.push(m);
    this.saveOutbox();
    this.stopTyping(peer);
    this.publishMessage(m);
    this.changed();
    return null;
  }

  dismissFailed(peer: string, clientMsgId: string) {
    const c = this.conv(peer);
    c.pending = c.pending.filter((m) => m.clientMsgId !== clientMsgId);
    this.saveOutbox();
    this.changed();
  }

  /** Call on every edit of the composer: typing notices at most every 3 s. */
  typed(peer: string) {
    if (peer === this.me) return;
    const now = Date.now();
    if (now - (this.typingSentAt.get(peer) ?? 0) >= TYPING_REFRESH_MS) {
      if (this.publish({ kind: { case: "typing", value: { recipient: peer, active: true } } }, 0))
        this.typingSentAt.set(peer, now);
    }
    clearTimeout(this.typingIdle.get(peer));
    this.typingIdle.set(peer, setTimeout(() => this.stopTyping(peer), TYPING_IDLE_MS));
  }

  stopTyping(peer: string) {
    clearTimeout(this.typingIdle.get(peer));
    this.typingIdle.delete(peer);
    if (!this.typingSentAt.has(peer)) return;
    this.typingSentAt.delete(peer);
    this.publish({ kind: { case: "typing", value: { recipient: peer, active: false } } }, 0);
  }

  draft(peer: string): string {
    return this.drafts[peer] ?? "";
  }

  setDraft(peer: string, text: string) {
    if (text) this.drafts[peer] = text;
    else delete this.drafts[peer];
    save(sessionStorage, this.draftsKey, this.drafts);
  }

  outboxSize(): number {
    let n = 0;
    for (const c of this.convs.values()) n += c.pending.filter((m) => !m.failed).length;
    return n;
  }

  private saveOutbox() {
    const all: Msg[] = [];
    for (const c of this.convs.values()) for (const m of c.pending) if (!m.failed) all.push(m);
    save(sessionStorage, this.outboxKey, all.length ? all : undefined);
  }
}
