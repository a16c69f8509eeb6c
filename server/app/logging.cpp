#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <vector>

#include "systemd_notify.hpp"

namespace natter::app {
namespace {

using level_set = std::array<bool, spdlog::level::n_levels>;

// "<N>": the syslog priority journald reads from the start of a line (sd-daemon(3)).
class priority_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr std::array<const char*, spdlog::level::n_levels> prefix = {
        "<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};  // trace .. critical, off
    const std::string_view p = prefix[static_cast<std::size_t>(msg.level)];
    dest.append(p.data(), p.data() + p.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<priority_flag>();
  }
};

// log_timestamp_format: strftime(3) itself, so the format means what Mosquitto's does.
class strftime_flag final : public spdlog::custom_flag_formatter {
 public:
  explicit strftime_flag(std::string format) : format_(std::move(format)) {}
  void format(const spdlog::details::log_msg&, const std::tm& tm,
              spdlog::memory_buf_t& dest) override {
    char buf[256];
    const auto n = std::strftime(buf, sizeof buf, format_.c_str(), &tm);
    dest.append(buf, buf + n);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<strftime_flag>(format_);
  }

 private:
  std::string format_;
};

// Passes on the levels log_type enabled, to every destination.
class type_filter_sink final : public spdlog::sinks::sink {
 public:
  type_filter_sink(level_set enabled, std::vector<spdlog::sink_ptr> sinks)
      : enabled_(enabled), sinks_(std::move(sinks)) {}
  void log(const spdlog::details::log_msg& msg) override {
    if (!enabled_[static_cast<std::size_t>(msg.level)]) return;
    for (auto& s : sinks_) s->log(msg);
  }
  void flush() override {
    for (auto& s : sinks_) s->flush();
  }
  // Each destination keeps the format it was given.
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  level_set enabled_;
  std::vector<spdlog::sink_ptr> sinks_;
};

std::unique_ptr<spdlog::formatter> journal_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<priority_flag>('*').set_pattern("%*%v");
  return f;
}

std::unique_ptr<spdlog::formatter> plain_formatter(const config::log_config& cfg, bool color) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  const std::string level = color ? "%^%l%$ " : "%l ";
  if (!cfg.timestamp) {
    f->set_pattern(level + "%v");
  } else if (cfg.timestamp_format) {
    f->add_flag<strftime_flag>('*', *cfg.timestamp_format).set_pattern("%* " + level + "%v");
  } else {
    f->set_pattern("%Y-%m-%dT%H:%M:%S.%e " + level + "%v");
  }
  return f;
}

// stdout or stderr: the journal's format when systemd connected it to the journal.
spdlog::sink_ptr console_sink(const config::log_config& cfg, bool to_stdout) {
  const int fd = to_stdout ? STDOUT_FILENO : STDERR_FILENO;
  spdlog::sink_ptr s;
  if (systemd::is_journal_stream(fd)) {
    if (to_stdout)
      s = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    else
      s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_formatter(journal_formatter());
    return s;
  }
  const auto mode =
      std::getenv("NO_COLOR") ? spdlog::color_mode::never : spdlog::color_mode::automatic;
  if (to_stdout)
    s = std::make_shared<spdlog::sinks::stdout_color_sink_mt>(mode);
  else
    s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(mode);
  s->set_formatter(plain_formatter(cfg, mode != spdlog::color_mode::never));
  return s;
}

void install(std::vector<spdlog::sink_ptr> sinks, level_set enabled) {
  auto lowest = spdlog::level::off;
  for (int l = spdlog::level::trace; l < spdlog::level::off; ++l)
    if (enabled[static_cast<std::size_t>(l)]) {
      lowest = static_cast<spdlog::level::level_enum>(l);
      break;
    }
  auto filter = std::make_shared<type_filter_sink>(enabled, std::move(sinks));
  auto logger = std::make_shared<spdlog::logger>("natter", std::move(filter));
  logger->set_level(lowest);
  logger->flush_on(spdlog::level::trace);  // a log file is read while we run
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

void init_default_logging(bool verbose) {
  config::log_config cfg;
  if (verbose) cfg.types.debug = true;
  configure_logging(cfg, verbose);
}

void configure_logging(const config::log_config& cfg, bool verbose) {
  std::vector<spdlog::sink_ptr> sinks;
  if (cfg.to_stderr) sinks.push_back(console_sink(cfg, false));
  if (cfg.to_stdout) sinks.push_back(console_sink(cfg, true));
  if (cfg.file) {
    try {
      auto s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(cfg.file->string());
      s->set_formatter(plain_formatter(cfg, false));
      sinks.push_back(std::move(s));
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("log_dest file " + cfg.file->string() + ": " + e.what());
    }
  }
  if (cfg.to_syslog) {
    const int facility = cfg.facility ? (16 + *cfg.facility) << 3 : LOG_DAEMON;  // localN
    auto s = std::make_shared<spdlog::sinks::syslog_sink_mt>("natter", LOG_PID, facility, true);
    s->set_pattern("%v");  // syslog adds time, host and priority itself
    sinks.push_back(std::move(s));
  }

  const auto& t = cfg.types;
  level_set on{};
  const bool all = verbose;
  on[spdlog::level::trace] = on[spdlog::level::debug] = all || t.debug;
  on[spdlog::level::info] = all || t.information || t.notice;
  on[spdlog::level::warn] = all || t.warning;
  on[spdlog::level::err] = on[spdlog::level::critical] = all || t.error;
  install(std::move(sinks), on);
}

}  // namespace natter::app
