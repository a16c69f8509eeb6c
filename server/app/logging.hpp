// natter-server's log: spdlog set up from Mosquitto's logging keys (log_dest, log_type,
// log_timestamp, log_timestamp_format, log_facility). One line per event.
//
// On stderr/stdout the line is "TIMESTAMP LEVEL message"; when the stream is the journal's
// (systemd sets JOURNAL_STREAM) it is "<N>message" instead: journald reads the syslog
// priority N from the prefix and adds its own timestamp, so `journalctl -p warning` works.
// log_type picks levels: error (error, critical), warning, notice and information (info),
// debug (debug, trace). subscribe, unsubscribe and websockets are accepted; Natter logs no
// separate messages for them.
#pragma once

#include "config/config.hpp"

namespace natter::app {

// Until the configuration is read: stderr, information and up (debug with -v).
void init_default_logging(bool verbose);

// Replaces the default logger as `cfg` says; `verbose` (-v) adds every log type. Throws
// std::runtime_error when the log file cannot be opened.
void configure_logging(const config::log_config& cfg, bool verbose);

}  // namespace natter::app
