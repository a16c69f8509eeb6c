// natter's full-screen terminal client (ncursesw).
//
// One thread: the io_context runs the chat client, the timers, the signals and the
// terminal input (stdin watched with a posix::stream_descriptor, keys read with get_wch
// without blocking), so ncurses is only ever called from that thread.
#pragma once

#include "settings.hpp"

namespace natter::term {

struct tui_options {
  bool color = true;  // false when NO_COLOR is set
};

// Runs until /quit (exit_ok), SIGINT/SIGTERM (re-raised once the terminal is restored),
// or a first connection that is refused for good (exit_connection).
int run_tui(const resolved& r, const tui_options& o);

}  // namespace natter::term
