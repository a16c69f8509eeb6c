#include "tui.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format.hpp"
#include "model.hpp"
#include "text.hpp"

// Last: ncurses's names are plain C names. NCURSES_NOMACROS keeps erase(), clear(),
// move()... functions rather than macros that would rewrite std::string::erase.
#define NCURSES_WIDECHAR 1
#define NCURSES_NOMACROS 1
#include <ncurses.h>

namespace natter::term {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------- terminal state

// The terminal must come back whatever ends the program: a crash restores it from the
// signal handler (endwin is what ncurses itself does there), then dies of the signal.
bool screen_active = false;

void restore_terminal() {
  if (screen_active) {
    screen_active = false;
    ::endwin();
  }
}

extern "C" void on_fatal_signal(int sig) {
  restore_terminal();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

enum color_pair : short {
  pair_online = 1,
  pair_away,
  pair_me,
  pair_peer,
  pair_error,
  pair_info,
};

struct seg {
  std::wstring text;
  attr_t attr = A_NORMAL;
  short pair = 0;
};

struct line {
  std::vector<seg> segs;
  std::uint64_t peer_id = 0;  // a message from the peer shown on this line
};

struct note {
  std::uint64_t after_id;  // shown after this message (0: before all)
  std::wstring text;
  bool error = false;
};

constexpr int time_width = 6;  // "14:03 "

const std::vector<std::wstring> command_names = {L"/msg",  L"/who",  L"/history", L"/away",
                                                 L"/back", L"/help", L"/quit"};

const wchar_t* const help_lines[] = {
    L"/msg USER [TEXT]   open the conversation with USER (and send TEXT)",
    L"/who               everyone's presence",
    L"/history [N]       load N older messages of this conversation (default 50)",
    L"/away [TEXT]       show yourself away, with an optional status text; /back undoes it",
    L"/quit              leave (Ctrl-C too)",
    L"Tab completes commands and user names; Up/Down recall what you typed;",
    L"PageUp/PageDown scroll (older messages load at the top); Ctrl-N/Ctrl-P next/previous",
    L"contact; Ctrl-L redraws. A line starting with // sends text beginning with /.",
};

std::wstring common_prefix(const std::vector<std::wstring>& v) {
  if (v.empty()) return {};
  std::wstring p = v.front();
  for (const auto& s : v) {
    std::size_t i = 0;
    while (i < p.size() && i < s.size() && p[i] == s[i]) ++i;
    p.resize(i);
  }
  return p;
}

// ---------------------------------------------------------------- the application

class app {
 public:
  app(asio::io_context& ioc, const resolved& r, const tui_options& o)
      : ioc_(ioc),
        r_(r),
        opts_(o),
        model_(r.chat.mqtt.connect.username.value_or("")),
        me_(model_.me()),
        input_fd_(ioc),
        signals_(ioc, SIGINT, SIGTERM, SIGHUP),
        winch_(ioc, SIGWINCH),
        tick_(ioc),
        quit_timer_(ioc) {}

  int run() {
    init_screen();
    chat::chat_options co = r_.chat;
    co.mqtt.reconnect.enabled = true;
    co.mqtt.reconnect.retry_initial = true;
    co.mqtt.reconnect.initial_delay = std::chrono::seconds(1);
    co.mqtt.reconnect.max_delay = std::chrono::seconds(10);
    client_ = chat::chat_client::create(ioc_.get_executor(), std::move(co));
    client_->on_state([this](const chat::chat_status& s) { on_state(s); });
    client_->on_message([this](const v1::ChatMessage& m) { on_message(m); });
    client_->on_receipt([this](const v1::Receipt& rc) {
      if (!model_.on_receipt(rc).empty()) redraw();
    });
    client_->on_typing([this](const v1::Typing& t) {
      if (!model_.on_typing(t, now_ms()).empty()) redraw();
    });
    client_->on_presence([this](const v1::Presence& p) {
      model_.on_presence(p);
      redraw();
    });
    client_->start();

    input_fd_.assign(::dup(STDIN_FILENO));
    wait_input();
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) quit(sig);
    });
    wait_winch();
    tick();
    draw();
    ioc_.run();
    restore_terminal();
    if (!exit_message_.empty()) std::fprintf(stderr, "natter: %s\n", exit_message_.c_str());
    return exit_status_;
  }

  int signal_received() const { return signal_; }

 private:
  // ---------------------------------------------------------------- screen

  void init_screen() {
    ::initscr();
    screen_active = true;
    ::cbreak();
    ::noecho();
    ::nonl();
    ::keypad(stdscr, TRUE);
    ::nodelay(stdscr, TRUE);
    ::set_escdelay(25);
    ::curs_set(1);
    color_ = opts_.color && ::has_colors();
    if (color_) {
      ::start_color();
      ::use_default_colors();
      ::init_pair(pair_online, COLOR_GREEN, -1);
      ::init_pair(pair_away, COLOR_YELLOW, -1);
      ::init_pair(pair_me, COLOR_CYAN, -1);
      ::init_pair(pair_peer, COLOR_MAGENTA, -1);
      ::init_pair(pair_error, COLOR_RED, -1);
      ::init_pair(pair_info, COLOR_BLUE, -1);
    }
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) ::sigaction(sig, &sa, nullptr);
  }

  attr_t colored(short pair, attr_t fallback = A_BOLD) const {
    return color_ ? static_cast<attr_t>(COLOR_PAIR(pair)) : fallback;
  }

  void put(int y, int x, std::wstring_view s, int width, attr_t attr = A_NORMAL) {
    if (width <= 0) return;
    const std::wstring t = fit(s, width);
    ::attrset(attr);
    ::mvaddnwstr(y, x, t.c_str(), static_cast<int>(t.size()));
    ::attrset(A_NORMAL);
  }

  // Draws the segments from column x, at most `width` columns; returns columns used.
  int put_segs(int y, int x, const std::vector<seg>& segs, int width) {
    int used = 0;
    for (const auto& s : segs) {
      if (used >= width) break;
      const std::wstring t = fit(s.text, width - used, false);
      ::attrset(s.attr | (s.pair != 0 && color_ ? COLOR_PAIR(s.pair) : 0));
      ::mvaddnwstr(y, x + used, t.c_str(), static_cast<int>(t.size()));
      used += text_width(t);
    }
    ::attrset(A_NORMAL);
    return used;
  }

  void redraw() {
    if (redraw_posted_) return;
    redraw_posted_ = true;
    asio::post(ioc_, [this] {
      redraw_posted_ = false;
      draw();
    });
  }

  void draw() {
    if (!screen_active) return;
    ::erase();
    const int h = LINES;
    const int w = COLS;
    if (h < 6 || w < 20) {
      put(0, 0, L"terminal too small", w);
      ::refresh();
      return;
    }
    const int cw = w >= 60 ? std::min(26, w / 4) : 0;  // contacts pane
    if (cw > 0) {
      draw_contacts(cw, h - 2);
      ::attrset(A_DIM);
      for (int y = 0; y < h - 2; ++y) ::mvaddnwstr(y, cw, L"\u2502", 1);
      ::attrset(A_NORMAL);
    }
    const int x0 = cw > 0 ? cw + 2 : 0;
    draw_main(x0, w - x0, h - 2);
    draw_status(h - 2, w);
    draw_input(h - 1, w);
    ::refresh();
  }

  void draw_contacts(int width, int height) {
    put(0, 1, L"Contacts", width - 1, A_BOLD);
    const auto names = model_.contacts();
    const auto now = now_ms();
    int y = 1;
    for (const auto& name : names) {
      if (y >= height) break;
      const v1::Presence* p = model_.presence(name);
      const auto state = p != nullptr ? p->state() : v1::PRESENCE_STATE_UNSPECIFIED;
      const bool selected = name == open_;
      const attr_t base = selected ? A_REVERSE : A_NORMAL;
      ::attrset(base);
      ::mvhline(y, 0, ' ', width);
      const wchar_t* dot = state == v1::PRESENCE_STATE_ONLINE ? L"\u25CF"
                           : state == v1::PRESENCE_STATE_AWAY ? L"\u25D0"
                                                              : L"\u25CB";
      short pair = 0;
      if (state == v1::PRESENCE_STATE_ONLINE) pair = pair_online;
      if (state == v1::PRESENCE_STATE_AWAY) pair = pair_away;
      seg dot_seg{dot, base, pair};
      if (pair == 0) dot_seg.attr |= A_DIM;
      const conversation* c = model_.find(name);
      const unsigned unread = c != nullptr ? c->unread : 0;
      std::wstring right;
      if (unread > 0) {
        right = L"(" + std::to_wstring(unread) + L")";
      } else if (p != nullptr && state == v1::PRESENCE_STATE_OFFLINE && p->last_seen_ms() > 0) {
        right = to_wide(ago_short(p->last_seen_ms(), now));
      }
      std::wstring label = sanitize(to_wide(name));
      if (name == me_) label += L" (you)";
      const int right_w = text_width(right);
      std::vector<seg> segs{
          dot_seg, {L" ", base, 0}, {label, base | (unread > 0 ? A_BOLD : A_NORMAL), 0}};
      put_segs(y, 1, segs, width - 2 - (right_w > 0 ? right_w + 1 : 0));
      if (right_w > 0) {
        put(y, width - 1 - right_w, right, right_w, base | (unread > 0 ? A_BOLD : A_DIM));
      }
      ++y;
    }
    if (names.empty()) put(1, 1, L"(nobody yet)", width - 1, A_DIM);
  }

  std::vector<seg> header_segs() {
    std::vector<seg> h;
    if (open_.empty()) {
      h.push_back({L"natter", A_BOLD, 0});
      h.push_back({L" \u2014 " + sanitize(to_wide(me_)) + L" on " + to_wide(r_.server), A_DIM, 0});
      return h;
    }
    h.push_back({sanitize(to_wide(open_)), A_BOLD, pair_peer});
    if (open_ == me_) h.push_back({L" (notes to yourself)", A_DIM, 0});
    const v1::Presence* p = model_.presence(open_);
    if (p == nullptr) return h;
    std::wstring state;
    short pair = 0;
    switch (p->state()) {
      case v1::PRESENCE_STATE_ONLINE:
        state = L"  \u25CF online";
        pair = pair_online;
        break;
      case v1::PRESENCE_STATE_AWAY:
        state = L"  \u25D0 away";
        pair = pair_away;
        break;
      default:
        state = L"  \u25CB offline";
        if (p->last_seen_ms() > 0) {
          state += L", last seen " + to_wide(ago(p->last_seen_ms(), now_ms()));
        } else {
          state += L", never seen";
        }
    }
    h.push_back({state, pair == 0 ? A_DIM : A_NORMAL, pair});
    if (!p->status_text().empty())
      h.push_back({L" \u2014 " + sanitize(to_wide(p->status_text())), A_DIM, 0});
    return h;
  }

  void add_wrapped(std::vector<line>& out, const std::wstring& text, int width, attr_t attr,
                   short pair, int indent = 0) {
    for (auto& l : wrap(text, std::max(1, width - indent))) {
      line ln;
      if (indent > 0) ln.segs.push_back({std::wstring(static_cast<std::size_t>(indent), L' ')});
      ln.segs.push_back({std::move(l), attr, pair});
      out.push_back(std::move(ln));
    }
  }

  void add_message(std::vector<line>& out, const std::string& who, const std::string& text,
                   std::int64_t at_ms, std::vector<seg> marks, std::uint64_t peer_id, int width) {
    const bool mine = who == me_;
    const std::wstring name = sanitize(to_wide(who));
    const std::wstring body = sanitize(to_wide(text), true);
    int marks_w = 0;
    for (const auto& m : marks) marks_w += text_width(m.text);
    auto wrapped = wrap(name + L": " + body, std::max(1, width - time_width - marks_w));
    for (std::size_t i = 0; i < wrapped.size(); ++i) {
      line ln;
      ln.peer_id = peer_id;
      if (i == 0) {
        ln.segs.push_back({to_wide(clock_time(at_ms)) + L" ", A_DIM, 0});
        std::wstring first = wrapped[0];
        const std::size_t n = std::min(first.size(), name.size() + 1);
        ln.segs.push_back({first.substr(0, n), A_BOLD, mine ? pair_me : pair_peer});
        ln.segs.push_back({first.substr(n)});
      } else {
        ln.segs.push_back({std::wstring(time_width, L' ')});
        ln.segs.push_back({wrapped[i]});
      }
      if (i + 1 == wrapped.size()) {
        for (auto& m : marks) ln.segs.push_back(std::move(m));
      }
      out.push_back(std::move(ln));
    }
  }

  std::vector<seg> marks_for(const v1::ChatMessage& m) const {
    switch (model_.mark_of(open_, m)) {
      case mark::read:
        return {{L" \u2713\u2713", A_BOLD, pair_online}};
      case mark::delivered:
        return {{L" \u2713", A_NORMAL, pair_online}};
      case mark::sent:
        return {{L" \u00B7", A_DIM, 0}};
      default:
        return {};
    }
  }

  void add_day_marker(std::vector<line>& out, std::int64_t at, std::int64_t& last_day, int width) {
    if (last_day != 0 && same_day(last_day, at)) return;
    last_day = at;
    const std::wstring label = L" " + to_wide(day_name(at)) + L" ";
    const int side = std::max(2, (width - text_width(label)) / 2);
    std::wstring rule;
    for (int i = 0; i < side; ++i) rule += L'\u2500';
    line ln;
    ln.segs.push_back({rule + label + rule, A_DIM, pair_info});
    out.push_back(std::move(ln));
  }

  std::vector<line> build_lines(int width) {
    std::vector<line> out;
    const auto& notes = notes_[open_];
    auto notes_after = [&](std::uint64_t id, std::size_t& next) {
      while (next < notes.size() && notes[next].after_id <= id) {
        const auto& n = notes[next++];
        add_wrapped(out, n.text, width, n.error ? A_BOLD : A_DIM, n.error ? pair_error : pair_info);
      }
    };
    std::size_t next_note = 0;
    if (open_.empty()) {
      add_wrapped(out, L"Welcome, " + sanitize(to_wide(me_)) + L".", width, A_BOLD, 0);
      add_wrapped(out,
                  L"Open a conversation with /msg USER (Tab completes names, Ctrl-N/Ctrl-P move "
                  L"through the contacts). /who lists everyone, /help shows every command.",
                  width, A_NORMAL, 0);
      notes_after(UINT64_MAX, next_note);
      return out;
    }
    const conversation& c = model_.conv(open_);
    if (c.loading) {
      add_wrapped(out, L"loading older messages\u2026", width, A_DIM, pair_info);
    } else if (!c.has_more && c.history_requested) {
      add_wrapped(out, L"\u2500\u2500 the beginning of the conversation \u2500\u2500", width, A_DIM,
                  pair_info);
    } else if (c.history_requested && !c.messages.empty()) {
      add_wrapped(out, L"PageUp for older messages", width, A_DIM, pair_info);
    }
    std::int64_t last_day = 0;
    notes_after(0, next_note);
    for (const auto& [id, m] : c.messages) {
      // A note made before this message was known goes before it.
      notes_after(id - 1, next_note);
      add_day_marker(out, m.server_at_ms(), last_day, width);
      const std::uint64_t peer_id = m.sender() != me_ ? id : 0;
      add_message(out, m.sender(), m.text(), m.server_at_ms(), marks_for(m), peer_id, width);
    }
    notes_after(UINT64_MAX - 1, next_note);
    for (const auto& p : c.pending) {
      add_day_marker(out, p.sent_at_ms, last_day, width);
      std::vector<seg> marks;
      if (p.error.empty()) {
        marks.push_back({L" \u2026", A_DIM, 0});
      } else {
        marks.push_back({L" \u2717 " + to_wide(p.error), A_BOLD, pair_error});
      }
      add_message(out, me_, p.text, p.sent_at_ms, std::move(marks), 0, width);
    }
    notes_after(UINT64_MAX, next_note);
    return out;
  }

  void draw_main(int x0, int width, int height) {
    put_segs(0, x0, header_segs(), width);
    const int area = height - 2;  // rows 1..height-2; the last row for typing / scroll hints
    std::vector<line> lines = build_lines(width);
    const int total = static_cast<int>(lines.size());
    const int max_scroll = std::max(0, total - area);
    scroll_ = std::clamp(scroll_, 0, max_scroll);
    const int bottom = total - scroll_;
    const int top = std::max(0, bottom - area);
    std::uint64_t newest_seen = 0;
    for (int i = top; i < bottom; ++i) {
      const int y = 1 + (i - top) + std::max(0, area - (bottom - top));  // stick to the bottom
      put_segs(y, x0, lines[static_cast<std::size_t>(i)].segs, width);
      newest_seen = std::max(newest_seen, lines[static_cast<std::size_t>(i)].peer_id);
    }
    page_lines_ = std::max(1, area - 1);
    at_top_ = top == 0;
    // Scrolled up to the oldest message loaded: fetch the page before it.
    if (at_top_ && scroll_ > 0 && !open_.empty()) {
      const conversation& c = model_.conv(open_);
      if (c.has_more && !c.loading && !c.messages.empty()) load_older(50);
    }
    // The status row of the conversation: typing, or that there is more below.
    const int y = height - 1;
    if (!open_.empty() && model_.is_typing(open_, now_ms())) {
      put(y, x0, sanitize(to_wide(open_)) + L" is typing\u2026", width, A_DIM | A_BOLD);
    } else if (scroll_ > 0) {
      put(y, x0, L"\u2193 more below (PageDown)", width, A_DIM);
    }
    // READ receipts for what is on screen.
    if (!open_.empty() && open_ != me_ && newest_seen > 0 && model_.mark_read(open_, newest_seen))
      client_->mark_read(open_, newest_seen);
  }

  std::wstring status_text(attr_t& attr) const {
    const std::wstring server = to_wide(r_.server);
    const std::wstring why = to_wide(describe_failure(status_.ec));
    switch (status_.state) {
      case chat::chat_state::connected:
        attr = A_REVERSE;
        return L"\u25CF connected to " + server + L" as " + sanitize(to_wide(me_));
      case chat::chat_state::connecting:
        attr = A_REVERSE;
        return L"connecting to " + server + L"\u2026";
      case chat::chat_state::reconnecting: {
        attr = A_REVERSE | A_BOLD;
        const std::wstring lead =
            status_.ever_connected ? L"\u2717 connection lost" : L"\u2717 cannot connect";
        const auto left =
            std::chrono::duration_cast<std::chrono::seconds>(retry_at_ - steady::now());
        const std::wstring reason = status_.ec ? L" (" + why + L")" : L"";
        if (left.count() > 0 && status_.retry_in.count() > 0)
          return lead + reason + L" \u2014 reconnecting in " + std::to_wstring(left.count()) + L"s";
        return lead + reason + L" \u2014 reconnecting\u2026";
      }
      case chat::chat_state::disconnected:
        attr = A_REVERSE | A_BOLD;
        return L"\u2717 disconnected" + (status_.ec ? L": " + why : L"") +
               L" \u2014 /quit to leave";
    }
    return {};
  }

  void draw_status(int y, int width) {
    attr_t attr = A_REVERSE;
    std::wstring left = status_text(attr);
    if (color_ && status_.state != chat::chat_state::connected) attr |= COLOR_PAIR(pair_error);
    std::wstring right;
    if (!flash_.empty() && steady::now() < flash_until_) {
      right = flash_;
    } else {
      const unsigned unread = model_.total_unread();
      right = unread > 0 ? std::to_wstring(unread) + L" unread \u00B7 /help" : L"/help";
    }
    ::attrset(attr);
    ::mvhline(y, 0, ' ', width);
    const int rw = std::min(text_width(right), width / 2);
    put(y, 1, left, width - rw - 3, attr);
    put(y, width - rw - 1, right, rw, attr);
  }

  std::wstring prompt() const { return open_.empty() ? L"> " : sanitize(to_wide(open_)) + L"> "; }

  void draw_input(int y, int width) {
    const std::wstring p = fit(prompt(), width / 3);
    const int pw = text_width(p);
    put(y, 0, p, pw, A_BOLD);
    const int room = std::max(1, width - pw - 1);
    if (input_scroll_ > cursor_) input_scroll_ = cursor_;
    while (text_width(std::wstring_view(input_).substr(input_scroll_, cursor_ - input_scroll_)) >
           room - 1)
      ++input_scroll_;
    const std::wstring shown = sanitize(std::wstring_view(input_).substr(input_scroll_));
    put(y, pw, fit(shown, room, false), room);
    const int cx =
        pw + text_width(std::wstring_view(input_).substr(input_scroll_, cursor_ - input_scroll_));
    ::move(y, std::min(cx, width - 1));
  }

  // ---------------------------------------------------------------- input

  void wait_input() {
    input_fd_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](boost::system::error_code ec) {
                           if (ec) return;
                           on_input();
                           if (!quitting_) wait_input();
                         });
  }

  void on_input() {
    wint_t ch = 0;
    int n = 0;
    while (true) {
      const int rc = ::get_wch(&ch);
      if (rc == ERR) break;
      ++n;
      on_key(ch, rc == KEY_CODE_YES);
      if (quitting_) return;
    }
    if (n == 0) {
      // Readable but no key: the terminal hung up (end of file) once this repeats.
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      if ((::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) ||
          ++empty_reads_ > 100)
        return quit(SIGHUP);
    } else {
      empty_reads_ = 0;
    }
    draw();
  }

  void on_key(wint_t ch, bool key) {
    if (key) {
      switch (ch) {
        case KEY_LEFT:
          if (cursor_ > 0) --cursor_;
          return;
        case KEY_RIGHT:
          if (cursor_ < input_.size()) ++cursor_;
          return;
        case KEY_HOME:
          cursor_ = 0;
          return;
        case KEY_END:
          cursor_ = input_.size();
          return;
        case KEY_BACKSPACE:
          return backspace();
        case KEY_DC:
          if (cursor_ < input_.size()) {
            input_.erase(cursor_, 1);
            edited();
          }
          return;
        case KEY_UP:
          return recall(-1);
        case KEY_DOWN:
          return recall(+1);
        case KEY_PPAGE:
          return page(+1);
        case KEY_NPAGE:
          return page(-1);
        case KEY_ENTER:
          return submit();
        case KEY_RESIZE:
          return;  // draw() follows
        default:
          return;
      }
    }
    switch (ch) {
      case L'\r':
      case L'\n':
        return submit();
      case L'\t':
        return complete();
      case 127:
      case 8:
        return backspace();
      case 1:  // Ctrl-A
        cursor_ = 0;
        return;
      case 5:  // Ctrl-E
        cursor_ = input_.size();
        return;
      case 2:  // Ctrl-B
        if (cursor_ > 0) --cursor_;
        return;
      case 6:  // Ctrl-F
        if (cursor_ < input_.size()) ++cursor_;
        return;
      case 11:  // Ctrl-K
        input_.erase(cursor_);
        return edited();
      case 21:  // Ctrl-U
        input_.erase(0, cursor_);
        cursor_ = 0;
        return edited();
      case 23: {  // Ctrl-W: the word before the cursor
        std::size_t i = cursor_;
        while (i > 0 && input_[i - 1] == L' ') --i;
        while (i > 0 && input_[i - 1] != L' ') --i;
        input_.erase(i, cursor_ - i);
        cursor_ = i;
        return edited();
      }
      case 12:  // Ctrl-L
        ::clearok(stdscr, TRUE);
        return;
      case 14:  // Ctrl-N
        return cycle(+1);
      case 16:  // Ctrl-P
        return cycle(-1);
      case 27:  // a lone Escape
        return;
      default:
        if (ch < 0x20 || ch == 0x7F) return;
        input_.insert(cursor_, 1, static_cast<wchar_t>(ch));
        ++cursor_;
        return edited();
    }
  }

  void backspace() {
    if (cursor_ == 0) return;
    input_.erase(--cursor_, 1);
    edited();
  }

  void recall(int dir) {
    if (history_.empty()) return;
    if (hist_pos_ == history_.size()) draft_ = input_;
    if (dir < 0 && hist_pos_ > 0) --hist_pos_;
    if (dir > 0 && hist_pos_ < history_.size()) ++hist_pos_;
    input_ = hist_pos_ == history_.size() ? draft_ : history_[hist_pos_];
    cursor_ = input_.size();
  }

  void page(int dir) {
    if (dir > 0) {
      scroll_ += page_lines_;
      // At the top with older messages on the server: fetch the next page.
      if (at_top_ && !open_.empty()) load_older(50);
    } else {
      scroll_ = std::max(0, scroll_ - page_lines_);
    }
  }

  void cycle(int dir) {
    const auto names = model_.contacts();
    if (names.empty()) return;
    auto it = std::find(names.begin(), names.end(), open_);
    std::ptrdiff_t i = it == names.end() ? (dir > 0 ? -1 : 0) : it - names.begin();
    const auto n = static_cast<std::ptrdiff_t>(names.size());
    i = ((i + dir) % n + n) % n;
    open(names[static_cast<std::size_t>(i)]);
  }

  void complete() {
    std::size_t start = cursor_;
    while (start > 0 && input_[start - 1] != L' ') --start;
    const std::wstring word = input_.substr(start, cursor_ - start);
    std::vector<std::wstring> pool;
    if (start == 0 && !word.empty() && word[0] == L'/') {
      pool = command_names;
    } else {
      for (const auto& n : model_.contacts()) pool.push_back(to_wide(n));
    }
    std::vector<std::wstring> matches;
    for (auto& c : pool) {
      if (c.starts_with(word)) matches.push_back(c);
    }
    if (matches.empty()) return;
    std::wstring fill = matches.size() == 1 ? matches[0] + L" " : common_prefix(matches);
    if (fill.size() <= word.size() && matches.size() > 1) {
      std::wstring list;
      for (const auto& m : matches) list += (list.empty() ? L"" : L" ") + m;
      return flash(list);
    }
    input_.replace(start, word.size(), fill);
    cursor_ = start + fill.size();
  }

  // The input changed: tell the peer we are typing (at most every 3 s), or that we stopped.
  void edited() {
    hist_pos_ = history_.size();
    const bool typing_text = !input_.empty() && input_[0] != L'/';
    const auto now = steady::now();
    if (open_.empty() || open_ == me_) return;
    if (!typing_text) return stop_typing();
    last_edit_ = now;
    if (!typing_to_.empty() && typing_to_ == open_ && now - typing_sent_ < std::chrono::seconds(3))
      return;
    typing_to_ = open_;
    typing_sent_ = now;
    client_->typing(open_, true);
  }

  void stop_typing() {
    if (typing_to_.empty()) return;
    client_->typing(typing_to_, false);
    typing_to_.clear();
  }

  void submit() {
    std::wstring text = input_;
    input_.clear();
    cursor_ = 0;
    input_scroll_ = 0;
    if (text.find_first_not_of(L' ') == std::wstring::npos) return;
    if (history_.empty() || history_.back() != text) history_.push_back(text);
    hist_pos_ = history_.size();
    draft_.clear();
    scroll_ = 0;
    if (text[0] == L'/' && !text.starts_with(L"//")) return command(text);
    if (text.starts_with(L"//")) text.erase(0, 1);
    if (open_.empty()) return flash(L"no conversation open: /msg USER first");
    send_text(open_, to_utf8(text));
  }

  void send_text(const std::string& peer, std::string text) {
    stop_typing();
    pending_message p;
    p.text = text;
    p.sent_at_ms = now_ms();
    // The completion runs later on this thread (send() posts), once the id is known.
    auto id = std::make_shared<std::string>();
    *id = client_->send(peer, std::move(text), 0, [this, peer, id](std::error_code ec) {
      if (ec) model_.pending_failed(peer, *id, describe_failure(ec));
      redraw();
    });
    p.client_msg_id = *id;
    model_.add_pending(peer, std::move(p));
  }

  void command(const std::wstring& line) {
    std::vector<std::wstring> words;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == L' ') ++i;
      std::size_t j = i;
      while (j < line.size() && line[j] != L' ') ++j;
      if (j > i) words.push_back(line.substr(i, j - i));
      i = j;
    }
    const std::wstring cmd = words[0];
    auto rest_after = [&](std::size_t nwords) {
      std::size_t pos = 0;
      for (std::size_t k = 0; k < nwords; ++k) {
        pos = line.find(words[k], pos) + words[k].size();
      }
      while (pos < line.size() && line[pos] == L' ') ++pos;
      return line.substr(std::min(pos, line.size()));
    };
    if (cmd == L"/quit" || cmd == L"/q" || cmd == L"/exit") return quit(0);
    if (cmd == L"/help") {
      for (const auto* h : help_lines) add_note(h);
      return;
    }
    if (cmd == L"/msg" || cmd == L"/m" || cmd == L"/query") {
      if (words.size() < 2) return flash(L"usage: /msg USER [TEXT]");
      const std::string peer = to_utf8(words[1]);
      if (!chat::valid_user_name(peer))
        return flash(L"not a valid user name: " + sanitize(words[1]));
      open(peer);
      const std::wstring text = rest_after(2);
      if (!text.empty()) send_text(peer, to_utf8(text));
      return;
    }
    if (cmd == L"/who") return who();
    if (cmd == L"/history") {
      if (open_.empty()) return flash(L"no conversation open: /msg USER first");
      unsigned n = 50;
      if (words.size() > 1) {
        try {
          n = static_cast<unsigned>(std::stoul(words[1]));
        } catch (...) {
          return flash(L"usage: /history [N]");
        }
      }
      n = std::clamp(n, 1u, 200u);
      if (!load_older(n)) flash(L"no older messages");
      return;
    }
    if (cmd == L"/away") {
      client_->set_presence(v1::PRESENCE_STATE_AWAY, to_utf8(rest_after(1)));
      return flash(L"you are away");
    }
    if (cmd == L"/back") {
      client_->set_presence(v1::PRESENCE_STATE_ONLINE, {});
      return flash(L"you are back");
    }
    flash(L"unknown command " + sanitize(cmd) + L" (/help lists them)");
  }

  void who() {
    const auto names = model_.contacts();
    if (names.empty()) return add_note(L"nobody is known yet");
    const auto now = now_ms();
    for (const auto& n : names) {
      const v1::Presence* p = model_.presence(n);
      std::string s = n + (n == me_ ? " (you)" : "") + ": ";
      if (p == nullptr) {
        s += "unknown";
      } else if (p->state() == v1::PRESENCE_STATE_OFFLINE) {
        s += p->last_seen_ms() > 0 ? "offline, last seen " + ago(p->last_seen_ms(), now)
                                   : "offline, never seen";
      } else {
        s += std::string(state_name(p->state())) + " (" + std::to_string(p->device_count()) +
             (p->device_count() == 1 ? " device)" : " devices)");
      }
      if (p != nullptr && !p->status_text().empty()) s += " \u2014 " + p->status_text();
      add_note(to_wide(s));
    }
  }

  void add_note(std::wstring text, bool error = false) {
    std::uint64_t after = 0;
    if (!open_.empty()) {
      const auto& msgs = model_.conv(open_).messages;
      if (!msgs.empty()) after = msgs.rbegin()->first;
    }
    notes_[open_].push_back({after, std::move(text), error});
    scroll_ = 0;
  }

  void flash(std::wstring text) {
    flash_ = std::move(text);
    flash_until_ = steady::now() + std::chrono::seconds(5);
  }

  // ---------------------------------------------------------------- conversations

  void open(const std::string& peer) {
    if (peer != open_) stop_typing();
    open_ = peer;
    scroll_ = 0;
    conversation& c = model_.conv(peer);
    if (!c.history_requested) {
      c.history_requested = true;
      request_history(peer, 0, 50);
    }
  }

  bool load_older(unsigned n) {
    conversation& c = model_.conv(open_);
    if (c.loading || !c.has_more) return false;
    const std::uint64_t before = c.messages.empty() ? 0 : c.messages.begin()->first;
    if (before == 0 && c.history_requested) return false;
    c.history_requested = true;
    request_history(open_, before, n);
    return true;
  }

  void request_history(const std::string& peer, std::uint64_t before, unsigned n) {
    model_.conv(peer).loading = true;
    client_->history(
        peer, before, n, [this, peer](std::error_code ec, const v1::HistoryResponse& h) {
          if (ec) {
            model_.conv(peer).loading = false;
            const std::string why = h.error().empty() ? describe_failure(ec) : h.error();
            if (peer == open_) add_note(L"history: " + to_wide(why), true);
          } else {
            v1::HistoryResponse copy = h;
            if (copy.peer().empty()) copy.set_peer(peer);
            model_.on_history(copy);
          }
          redraw();
        });
  }

  // ---------------------------------------------------------------- chat events

  void on_state(const chat::chat_status& s) {
    status_ = s;
    if (s.state == chat::chat_state::reconnecting) retry_at_ = steady::now() + s.retry_in;
    if (s.state == chat::chat_state::connected) {
      if (!s.session_present) model_.forget_presence_versions();
      // Unread counts, and whatever the open conversation missed while we were away.
      client_->conversations([this](std::error_code ec, const v1::ConversationsResponse& cr) {
        if (!ec) model_.on_conversations(cr);
        redraw();
      });
      for (const auto& name : model_.contacts()) {
        if (name != open_) model_.conv(name).history_requested = false;
      }
      if (!open_.empty()) request_history(open_, 0, 50);
    }
    if (s.state == chat::chat_state::disconnected && !s.ever_connected && s.ec && !quitting_) {
      // Refused for good before we ever got in (a wrong password): nothing to show.
      exit_status_ = exit_connection;
      exit_message_ = "cannot connect to " + r_.server + ": " + describe_failure(s.ec);
      return quit(0);
    }
    redraw();
  }

  void on_message(const v1::ChatMessage& m) {
    const std::string peer = model_.on_message(m);
    if (peer.empty()) return;
    if (peer != open_ && m.sender() != me_) {
      flash(L"new message from " + sanitize(to_wide(m.sender())) + L" (/msg " +
            sanitize(to_wide(m.sender())) + L")");
    }
    redraw();
  }

  // ---------------------------------------------------------------- time and signals

  void tick() {
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](boost::system::error_code ec) {
      if (ec || quitting_) return;
      if (!typing_to_.empty() && steady::now() - last_edit_ > std::chrono::seconds(5))
        stop_typing();
      draw();  // countdowns, typing indicators, "last seen" ages
      tick();
    });
  }

  void wait_winch() {
    winch_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      winsize ws{};
      if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        ::resizeterm(ws.ws_row, ws.ws_col);
      draw();
      wait_winch();
    });
  }

  void quit(int sig) {
    if (quitting_) return;
    quitting_ = true;
    signal_ = sig;
    stop_typing();
    boost::system::error_code ignored;
    input_fd_.cancel(ignored);
    signals_.cancel(ignored);
    winch_.cancel(ignored);
    tick_.cancel();
    // A clean DISCONNECT: the server marks this device gone at once. A server that does
    // not answer gets a moment, not more.
    client_->stop([this] { ioc_.stop(); });
    quit_timer_.expires_after(std::chrono::milliseconds(1500));
    quit_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) ioc_.stop();
    });
  }

  asio::io_context& ioc_;
  const resolved& r_;
  tui_options opts_;
  chat_model model_;
  std::string me_;
  std::shared_ptr<chat::chat_client> client_;
  asio::posix::stream_descriptor input_fd_;
  asio::signal_set signals_;
  asio::signal_set winch_;
  asio::steady_timer tick_;
  asio::steady_timer quit_timer_;

  bool color_ = false;
  bool redraw_posted_ = false;
  int empty_reads_ = 0;
  bool quitting_ = false;
  int signal_ = 0;
  int exit_status_ = exit_ok;
  std::string exit_message_;

  chat::chat_status status_{chat::chat_state::connecting};
  steady::time_point retry_at_{};

  std::string open_;
  std::map<std::string, std::vector<note>> notes_;
  int scroll_ = 0;
  int page_lines_ = 10;
  bool at_top_ = false;

  std::wstring input_;
  std::size_t cursor_ = 0;
  std::size_t input_scroll_ = 0;
  std::vector<std::wstring> history_;
  std::size_t hist_pos_ = 0;
  std::wstring draft_;

  std::wstring flash_;
  steady::time_point flash_until_{};

  std::string typing_to_;
  steady::time_point typing_sent_{};
  steady::time_point last_edit_{};
};

}  // namespace

int run_tui(const resolved& r, const tui_options& o) {
  int status = exit_ok;
  int sig = 0;
  try {
    asio::io_context ioc{1};
    app a(ioc, r, o);
    status = a.run();
    sig = a.signal_received();
  } catch (const std::exception& e) {
    restore_terminal();
    std::fprintf(stderr, "natter: %s\n", e.what());
    return exit_connection;
  }
  restore_terminal();
  if (sig != 0) {
    // Die of the signal, as the shell expects of an interrupted program.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  return status;
}

}  // namespace natter::term
