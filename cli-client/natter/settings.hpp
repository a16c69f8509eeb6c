// Where `natter` connects and as whom: the command line and config file options, the
// password (file, NATTER_PASSWORD, or a prompt without echo; never an argument), the
// device id kept in the state directory, and the chat_options they make.
#pragma once

#include <optional>
#include <string>

#include "client/chat/chat_client.hpp"

namespace natter::term {

// Exit statuses of every sub-command (docs/natter-cli.md).
enum exit_status : int {
  exit_ok = 0,
  exit_usage = 1,       // bad command line, unreadable file, no password available
  exit_connection = 2,  // cannot connect, authentication refused, connection lost
  exit_refused = 3,     // the server refused the message or request
  exit_timeout = 4,     // the server did not answer in time
};

struct settings {
  std::string url;  // -L mqtt://, mqtts://, ws://, wss://
  std::string host;
  int port = 0;  // 0: the transport's default
  std::string user;
  std::string password_file;
  std::string cafile;
  std::string capath;
  std::string cert;
  std::string key;
  bool insecure = false;
  std::string device;  // --device; empty: the stored one
  int keepalive = 30;
  int timeout = 10;  // seconds: connecting, and each request
};

// $XDG_CONFIG_HOME/natter/config (default ~/.config/natter/config).
std::string default_config_path();
// $XDG_STATE_HOME/natter (default ~/.local/state/natter).
std::string state_dir();
// The device id of this user on this machine: read from state_dir()/device-<user>, or
// made up ("natter-<host name>-<8 hex digits>") and stored there on first use. Empty with
// `error` set when the directory cannot be written.
std::string stored_device_id(const std::string& user, std::string& error);

struct resolved {
  chat::chat_options chat;
  std::string server;  // "host:port" for messages
  std::string error;   // what is wrong (exit_usage)
};

// The chat options for `s`: URL and options applied in that order, the password found,
// TLS set up, the device id chosen. `persistent`: the stored device id with a session
// the server keeps; otherwise a throw-away id and a clean session (one-off commands).
resolved resolve(const settings& s, bool persistent, bool interactive_prompt);

// The password: --password-file (its first line), then NATTER_PASSWORD, then the URL's,
// then a prompt on the terminal. nullopt with `error` set when none can be had.
std::optional<std::string> find_password(const settings& s,
                                         const std::optional<std::string>& url_pw, bool may_prompt,
                                         std::string& error);

// "cannot connect to HOST:PORT: reason" / "authentication failed: ..." for a status.
std::string describe_failure(const std::error_code& ec);

}  // namespace natter::term
