// The whole UI: sign-in, contact list, conversation, connection banner. It reads the
// state ChatClient (connection.ts) keeps and calls its methods; it holds only view state
// (search text, draft being edited, scroll position). Everything shown is text nodes:
// no innerHTML anywhere, so a message is never markup.
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import { ChatClient, type Conv } from "./connection";
import {
  filterContacts,
  markFor,
  msgTime,
  presenceText,
  timeOfDay,
  validUserName,
  withDaySeparators,
  type Contact,
  type ContactRow,
  type Mark,
  type Msg,
} from "./logic";

const SIGNIN_KEY = "natter.signin"; // sessionStorage: "remember me for this tab"

interface Saved {
  user: string;
  password: string;
}

function savedSignIn(): Saved | null {
  try {
    const v = sessionStorage.getItem(SIGNIN_KEY);
    return v ? (JSON.parse(v) as Saved) : null;
  } catch {
    return null;
  }
}

function remember(s: Saved | null) {
  try {
    if (s) sessionStorage.setItem(SIGNIN_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(SIGNIN_KEY);
  } catch {
    /* storage disabled: nothing remembered */
  }
}

/** Re-renders every `ms` so relative times ("5 min ago") stay true. */
function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function focusContact(user: string) {
  requestAnimationFrame(() => {
    const el = document.querySelector<HTMLElement>(`.contact[data-user="${CSS.escape(user)}"]`);
    (el ?? document.querySelector<HTMLElement>("#search"))?.focus();
  });
}

export function App() {
  const [client, setClient] = useState<ChatClient | null>(null);
  const [, bump] = useReducer((n: number) => n + 1, 0);
  const rerender = () => bump(undefined);

  const signIn = (user: string, password: string, keep: boolean, auto: boolean) => {
    remember(keep ? { user, password } : null);
    const c = new ChatClient(user, password, { keepTrying: auto }, rerender);
    setClient(c);
    c.start();
  };

  useEffect(() => {
    const s = savedSignIn();
    if (s) signIn(s.user, s.password, true, true);
  }, []);

  useEffect(() => {
    if (client?.failure?.kind === "auth") remember(null);
  }, [client?.failure]);

  if (!client || !client.everConnected || client.link === "stopped") {
    const busy = !!client && client.link !== "stopped";
    return (
      <SignIn
        busy={busy}
        error={client?.link === "stopped" ? client.failure?.text ?? "" : ""}
        status={busy ? client?.failure?.text ?? "" : ""}
        initialUser={client?.me ?? ""}
        remembered={!!savedSignIn()}
        onCancel={() => {
          client?.stop(false);
          remember(null);
          setClient(null);
        }}
        onSubmit={(u, p, keep) => {
          client?.stop(false);
          signIn(u, p, keep, false);
        }}
      />
    );
  }
  return (
    <Chat
      client={client}
      onSignOut={() => {
        client.stop(true);
        remember(null);
        setClient(null);
        document.title = "Natter";
      }}
    />
  );
}

function SignIn(props: {
  busy: boolean;
  error: string;
  status: string;
  initialUser: string;
  remembered: boolean;
  onSubmit: (user: string, password: string, keep: boolean) => void;
  onCancel: () => void;
}) {
  const [localError, setLocalError] = useState("");
  const submit = (e: JSX.TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = e.currentTarget;
    const user = (f.elements.namedItem("user") as HTMLInputElement).value.trim();
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    const keep = (f.elements.namedItem("remember") as HTMLInputElement).checked;
    if (!validUserName(user)) {
      setLocalError("A user name may not contain /, + or #, nor start with $");
      return;
    }
    setLocalError("");
    props.onSubmit(user, password, keep);
  };
  const error = localError || props.error;
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Natter</h1>
        <label>
          User name
          <input name="user" autocomplete="username" required autoFocus defaultValue={props.initialUser} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <label class="check">
          <input name="remember" type="checkbox" defaultChecked={props.remembered} /> Remember me for
          this tab
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {props.status && (
          <p class="status" role="status">
            {props.status}
          </p>
        )}
        <button type="submit" disabled={props.busy}>
          {props.busy ? "Signing in…" : "Sign in"}
        </button>
        {props.busy && (
          <button type="button" class="link" onClick={props.onCancel}>
            Cancel
          </button>
        )}
      </form>
    </main>
  );
}

const linkText = { online: "Connected", connecting: "Connecting…", reconnecting: "Offline", replaced: "Paused", stopped: "Signed out" };

function Banner({ client }: { client: ChatClient }) {
  const waiting = client.outboxSize();
  const queued = waiting
    ? ` ${waiting} message${waiting === 1 ? "" : "s"} will be sent when it is back.`
    : "";
  let body: JSX.Element | string = "";
  if (client.link === "reconnecting") body = `Connection lost. Reconnecting…${queued}`;
  else if (client.link === "connecting") body = `Connecting…${queued}`;
  else if (client.link === "replaced")
    body = (
      <>
        Natter is open in another tab with this account.{" "}
        <button type="button" onClick={() => client.resume()}>
          Use it here
        </button>
      </>
    );
  return (
    <div class="banner" role="status" hidden={!body}>
      {body}
    </div>
  );
}

function Chat({ client, onSignOut }: { client: ChatClient; onSignOut: () => void }) {
  const now = useNow(30_000);
  const [query, setQuery] = useState("");
  const peer = client.openPeer;
  const all = client.contactRows();
  const rows = filterContacts(all, query);
  const unread = all.reduce((n, r) => n + r.unread, 0);

  useEffect(() => {
    document.title = unread ? `(${unread}) Natter` : "Natter";
  }, [unread]);

  // An open conversation is a history entry, so a phone's Back button returns to the list
  // as Esc and the ‹ button do.
  const open = (user: string) => {
    if (history.state?.peer) history.replaceState({ peer: user }, "");
    else history.pushState({ peer: user }, "");
    client.open(user);
  };
  const back = () => {
    const p = client.openPeer;
    if (!p) return;
    if (history.state?.peer) return history.back(); // popstate closes it
    client.open(null);
    focusContact(p);
  };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && client.openPeer) back();
    };
    const onPop = (e: PopStateEvent) => {
      const p = client.openPeer;
      const want = (e.state as { peer?: string } | null)?.peer ?? null;
      client.open(want);
      if (!want && p) focusContact(p);
    };
    // A reload keeps the conversation that was open.
    const restored = (history.state as { peer?: string } | null)?.peer;
    if (restored && !client.openPeer) client.open(restored);
    document.addEventListener("keydown", onKey);
    window.addEventListener("popstate", onPop);
    return () => {
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("popstate", onPop);
    };
  }, [client]);

  const onListKey = (e: JSX.TargetedKeyboardEvent<HTMLElement>) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const buttons = [...document.querySelectorAll<HTMLElement>(".contact")];
    if (!buttons.length) return;
    e.preventDefault();
    const i = buttons.indexOf(document.activeElement as HTMLElement);
    const next = e.key === "ArrowDown" ? Math.min(i + 1, buttons.length - 1) : i - 1;
    (next < 0 ? document.querySelector<HTMLElement>("#search") : buttons[next])?.focus();
  };

  return (
    <div class="app" data-view={peer ? "conversation" : "list"}>
      <header class="topbar">
        <h1>Natter</h1>
        <span class="link-state" data-link={client.link}>
          {linkText[client.link]}
        </span>
        <span class="me">
          Signed in as <strong>{client.me}</strong>
        </span>
        <button type="button" class="signout" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Banner client={client} />
      <div class="panes">
        <nav class="contacts" aria-label="Contacts" onKeyDown={onListKey}>
          <input
            id="search"
            type="search"
            placeholder="Search contacts"
            aria-label="Search contacts"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && rows.length) open(rows[0].contact.user);
            }}
          />
          <ul class="contact-list">
            {rows.map((r) => (
              <ContactItem
                key={r.contact.user}
                row={r}
                me={r.contact.user === client.me}
                now={now}
                current={r.contact.user === peer}
                onOpen={() => open(r.contact.user)}
              />
            ))}
          </ul>
          {!rows.length && (
            <p class="hint">{query ? `No contact matches “${query}”.` : "No contacts yet."}</p>
          )}
        </nav>
        {peer ? (
          <ConversationView
            key={peer}
            client={client}
            conv={client.conv(peer)}
            contact={client.contacts.get(peer)}
            now={now}
            onBack={back}
          />
        ) : (
          <section class="conversation placeholder" aria-label="No conversation open">
            <p class="hint">Choose a contact to start chatting.</p>
          </section>
        )}
      </div>
    </div>
  );
}

function Dot({ contact }: { contact?: Contact }) {
  const p = contact?.presence ?? "offline";
  return <span class={`dot ${p}`} aria-hidden="true" />;
}

function ContactItem(props: {
  row: ContactRow;
  me: boolean;
  now: number;
  current: boolean;
  onOpen: () => void;
}) {
  const { contact, unread } = props.row;
  return (
    <li>
      <button
        type="button"
        class="contact"
        data-user={contact.user}
        data-presence={contact.presence}
        aria-current={props.current ? "true" : undefined}
        onClick={props.onOpen}
      >
        <Dot contact={contact} />
        <span class="name">{props.me ? `${contact.user} (you)` : contact.user}</span>
        <span class="sub">{props.me ? "notes to self" : presenceText(contact, props.now)}</span>
        {unread > 0 && (
          <span class="badge" aria-label={`${unread} unread`}>
            {unread}
          </span>
        )}
      </button>
    </li>
  );
}

const markGlyph: Record<Mark, string> = { pending: "◷", failed: "!", sent: "·", delivered: "✓", read: "✓✓" };
const markLabel: Record<Mark, string> = {
  pending: "Waiting to be sent",
  failed: "Not sent",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
};

function ConversationView(props: {
  client: ChatClient;
  conv: Conv;
  contact?: Contact;
  now: number;
  onBack: () => void;
}) {
  const { client, conv: c, now } = props;
  const peer = c.peer;
  const [draft, setDraft] = useState(client.draft(peer));
  const [error, setError] = useState("");
  const log = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const prev = useRef({ firstId: 0, count: 0, height: 0, top: 0, atBottom: true });

  const messages: Msg[] = [...c.messages, ...c.pending];
  const firstId = c.messages[0]?.id ?? 0;

  useEffect(() => input.current?.focus(), []);

  // Keep the view where the reader is: at the bottom when they were there, and on the
  // same message when an older page is prepended above it.
  useLayoutEffect(() => {
    const el = log.current;
    if (!el) return;
    const p = prev.current;
    if (p.firstId && firstId && firstId < p.firstId) el.scrollTop = p.top + (el.scrollHeight - p.height);
    else if (p.atBottom && messages.length !== p.count) el.scrollTop = el.scrollHeight;
    prev.current = {
      firstId,
      count: messages.length,
      height: el.scrollHeight,
      top: el.scrollTop,
      atBottom: el.scrollHeight - el.scrollTop - el.clientHeight < 40,
    };
    // A first page that does not fill the view: fetch more, as if scrolled to the top.
    if (c.hasMore && el.scrollHeight <= el.clientHeight) client.loadOlder(peer);
  });

  const onScroll = () => {
    const el = log.current;
    if (!el) return;
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    prev.current.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 80) client.loadOlder(peer);
  };

  const autosize = () => {
    const el = input.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
  };
  useLayoutEffect(autosize, [draft]);

  const send = () => {
    if (!draft.trim()) return;
    const err = client.send(peer, draft);
    setError(err ?? "");
    if (err) return;
    setDraft("");
    client.setDraft(peer, "");
    prev.current.atBottom = true;
    input.current?.focus();
  };

  const typing = c.typingUntil > Date.now();
  const rows = withDaySeparators(messages, now);
  return (
    <section class="conversation" aria-label={`Conversation with ${peer}`}>
      <header class="conv-head">
        <button type="button" class="back" aria-label="Back to contacts" onClick={props.onBack}>
          ‹
        </button>
        <Dot contact={props.contact} />
        <h2>{peer === client.me ? `${peer} (you)` : peer}</h2>
        <span class="sub">
          {peer === client.me ? "notes to self" : props.contact ? presenceText(props.contact, now) : ""}
        </span>
      </header>
      <div class="log" role="log" aria-label={`Messages with ${peer}`} tabIndex={0} ref={log} onScroll={onScroll}>
        {c.hasMore && (
          <button type="button" class="older" disabled={c.loadingOlder} onClick={() => client.loadOlder(peer)}>
            {c.loadingOlder ? "Loading…" : "Load older messages"}
          </button>
        )}
        {c.error && <p class="error">{c.error}</p>}
        {!c.loaded && !messages.length && <p class="hint">Loading messages…</p>}
        {c.loaded && !messages.length && <p class="hint">No messages yet. Say hello!</p>}
        {rows.map((r) =>
          r.kind === "day" ? (
            <div class="day" role="separator" key={r.key}>
              <span>{r.label}</span>
            </div>
          ) : (
            <MessageItem key={r.key} m={r.msg} client={client} conv={c} />
          ),
        )}
      </div>
      <div class="typing" aria-live="polite">
        {typing ? `${peer} is typing…` : ""}
      </div>
      {error && (
        <p class="error composer-error" role="alert">
          {error}
        </p>
      )}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          ref={input}
          rows={1}
          value={draft}
          aria-label={`Message to ${peer}`}
          placeholder={`Message ${peer}`}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setDraft(v);
            client.setDraft(peer, v);
            if (v) client.typed(peer);
            else client.stopTyping(peer);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" disabled={!draft.trim()}>
          Send
        </button>
      </form>
    </section>
  );
}

function MessageItem({ m, client, conv }: { m: Msg; client: ChatClient; conv: Conv }) {
  const mine = m.sender === client.me;
  const mark = mine ? markFor(m, conv.peerDeliveredUpTo, conv.peerReadUpTo) : null;
  const t = msgTime(m);
  return (
    <div
      class={`msg ${mine ? "mine" : "theirs"}`}
      data-id={m.id || undefined}
      data-status={mark ?? undefined}
    >
      <div class="text">{m.text}</div>
      <div class="meta">
        <time dateTime={new Date(t).toISOString()}>{timeOfDay(t)}</time>
        {mark && (
          <span class={`mark ${mark}`} title={markLabel[mark]} aria-label={markLabel[mark]}>
            {markGlyph[mark]}
          </span>
        )}
      </div>
      {m.failed && (
        <div class="failed">
          Not sent: {m.failed}{" "}
          <button type="button" onClick={() => client.dismissFailed(conv.peer, m.clientMsgId)}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}
