// Talking to systemd: readiness for `Type=notify` units (sd_notify(3)) and whether a stream
// goes to the journal. Every call is a no-op when the process was not started by systemd
// (NOTIFY_SOCKET / JOURNAL_STREAM unset), so natter-server behaves the same in a terminal.
#pragma once

#include <string_view>

namespace natter::app::systemd {

// READY=1 with a STATUS= line: every listener is bound, clients may connect.
void notify_ready(std::string_view status);
// RELOADING=1 (SIGHUP received); follow with notify_ready() once the reload is done.
void notify_reloading();
// STOPPING=1: shutting down.
void notify_stopping();
// STATUS=...: the line `systemctl status` shows.
void notify_status(std::string_view status);

// Whether file descriptor `fd` is the stream systemd connected to the journal
// (JOURNAL_STREAM, systemd.exec(5)): then lines may carry "<N>" priority prefixes and need
// no timestamp.
bool is_journal_stream(int fd);

}  // namespace natter::app::systemd
