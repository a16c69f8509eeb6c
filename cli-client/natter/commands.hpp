// natter's script-friendly sub-commands: send, read, who, history. Each connects, does
// its one job over chat_client, prints plain lines (or --json objects) to stdout and
// errors to stderr, and returns an exit_status (settings.hpp).
#pragma once

#include <cstdint>
#include <string>

#include "settings.hpp"

namespace natter::term {

struct output_options {
  bool json = false;
  bool tty = false;    // stdout is a terminal: friendlier layout
  bool color = false;  // and NO_COLOR is not set
};

struct send_args {
  std::string peer;
  std::string text;
  std::uint64_t reply_to = 0;
};
int run_send(const resolved& r, const send_args& a, const output_options& out);

struct read_args {
  bool follow = false;
  bool all = false;        // also the copies of my own messages
  bool mark_read = false;  // READ receipts for what is printed
  double idle = 1.0;       // seconds without a message before read (not --follow) exits
};
int run_read(const resolved& r, const read_args& a, const output_options& out);

int run_who(const resolved& r, const output_options& out);

struct history_args {
  std::string peer;
  unsigned limit = 50;
  std::uint64_t before = 0;
};
int run_history(const resolved& r, const history_args& a, const output_options& out);

}  // namespace natter::term
