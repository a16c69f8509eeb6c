// natter: Natter's terminal chat client. Without a sub-command, the full-screen client
// (tui.hpp); with one, a script-friendly command (commands.hpp). Options come from the
// command line and from the config file ($XDG_CONFIG_HOME/natter/config), in CLI11's
// INI/TOML format; the password never from the command line (settings.hpp).
#include <langinfo.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "settings.hpp"
#include "tui.hpp"

#ifndef NATTER_VERSION
#define NATTER_VERSION "0.0.0"
#endif

namespace term = natter::term;

namespace {

constexpr const char* description =
    "natter: chat from a terminal, on a Natter server.\n"
    "Without a command, the full-screen client; the commands are for scripts.\n"
    "The password comes from --password-file, $NATTER_PASSWORD or a prompt.\n"
    "Exit status: 0 ok, 1 usage, 2 connection or authentication failure,\n"
    "3 refused by the server, 4 no answer in time.";

}  // namespace

int main(int argc, char** argv) {
  std::setlocale(LC_ALL, "");
  // Messages are UTF-8 whatever the locale says; a "C" locale (LANG unset, common over
  // ssh and in containers) would make ncursesw print them as escapes and wcwidth fail.
  if (std::string_view(::nl_langinfo(CODESET)) != "UTF-8") std::setlocale(LC_CTYPE, "C.UTF-8");
  term::settings s;
  term::output_options out;
  bool json = false;

  CLI::App app{description, "natter"};
  app.set_help_flag("--help", "Print this help and exit");
  app.set_version_flag("--version", NATTER_VERSION);
  app.set_config("--config", term::default_config_path(),
                 "Read option defaults from this file (INI/TOML: host = \"example.org\")");
  app.option_defaults()->always_capture_default(false);
  app.add_option("-L,--url", s.url,
                 "Server as a URL: mqtt://, mqtts://, ws://, wss:// [user@]host[:port][/path]");
  app.add_option("-h,--host", s.host, "Server host name (default localhost)");
  app.add_option("-p,--port", s.port, "Server port (default: 1883, 8883 with TLS)");
  app.add_option("-u,--user", s.user, "Your user name");
  app.add_option("--password-file", s.password_file, "Read the password from this file");
  app.add_option("--cafile", s.cafile, "Trusted CA certificates (PEM): turns TLS on");
  app.add_option("--capath", s.capath, "Directory of trusted CA certificates: turns TLS on");
  app.add_option("--cert", s.cert, "Client certificate (PEM)");
  app.add_option("--key", s.key, "Client private key (PEM)");
  app.add_flag("--insecure", s.insecure, "Do not check the server certificate's host name");
  app.add_option("--device", s.device,
                 "Device id (MQTT client id); default: one made up and kept in " +
                     term::state_dir() + "/device-USER");
  app.add_option("-k,--keepalive", s.keepalive, "Keep alive in seconds (default 30)");
  app.add_option("--timeout", s.timeout,
                 "Seconds to wait for the connection and for each answer (default 10)");

  term::send_args send_a;
  std::vector<std::string> send_words;
  auto* send = app.add_subcommand("send", "Send TEXT to USER; exit 0 once the server stored it");
  send->add_option("user", send_a.peer, "Recipient")->required();
  send->add_option("text", send_words, "The message (words are joined with spaces; - reads stdin)")
      ->required()
      ->expected(-1);
  send->add_option("--reply-to", send_a.reply_to, "Id of the message this answers");
  send->add_flag("--json", json, "Print {\"client_msg_id\", \"id\", \"server_at_ms\"}");

  term::read_args read_a;
  auto* read = app.add_subcommand(
      "read", "Print the messages waiting for this device (with --follow: and what comes)");
  read->add_flag("-f,--follow", read_a.follow, "Keep printing messages as they arrive");
  read->add_flag("--all", read_a.all, "Also print your own messages (sent from other devices)");
  read->add_flag("--mark-read", read_a.mark_read, "Send read receipts for what is printed");
  read->add_option("--idle", read_a.idle,
                   "Without --follow: exit after this many seconds without a message (1)");
  read->add_flag("--json", json, "One JSON object per message");

  auto* who = app.add_subcommand("who", "Everyone's presence");
  who->add_flag("--json", json, "One JSON object per user");

  term::history_args hist_a;
  auto* history = app.add_subcommand("history", "The conversation with USER, oldest first");
  history->add_option("user", hist_a.peer, "The other user")->required();
  history->add_option("-n,--limit", hist_a.limit, "How many of the newest messages (50)");
  history->add_option("--before", hist_a.before, "Only messages with an id below this one");
  history->add_flag("--json", json, "One JSON object per message");

  for (auto* sub : {send, read, who, history}) sub->fallthrough();
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? term::exit_ok : term::exit_usage;
  }

  out.json = json;
  out.tty = ::isatty(STDOUT_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  out.color = out.tty && (no_color == nullptr || *no_color == '\0');

  const bool interactive = app.get_subcommands().empty();
  const bool persistent = interactive || read->parsed();
  if (interactive && (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1)) {
    std::fprintf(stderr,
                 "natter: the interactive client needs a terminal; for scripts use "
                 "natter send|read|who|history (see natter --help)\n");
    return term::exit_usage;
  }
  const auto r = term::resolve(s, persistent, ::isatty(STDIN_FILENO) == 1 || interactive);
  if (!r.error.empty()) {
    std::fprintf(stderr, "natter: %s\n", r.error.c_str());
    return term::exit_usage;
  }

  if (send->parsed()) {
    if (send_words.size() == 1 && send_words[0] == "-") {
      send_a.text.assign(std::istreambuf_iterator<char>(std::cin), {});
      while (!send_a.text.empty() && send_a.text.back() == '\n') send_a.text.pop_back();
    } else {
      for (const auto& w : send_words) {
        if (!send_a.text.empty()) send_a.text += ' ';
        send_a.text += w;
      }
    }
    return term::run_send(r, send_a, out);
  }
  if (read->parsed()) return term::run_read(r, read_a, out);
  if (who->parsed()) return term::run_who(r, out);
  if (history->parsed()) return term::run_history(r, hist_a, out);

  term::tui_options t;
  t.color = no_color == nullptr || *no_color == '\0';
  return term::run_tui(r, t);
}
