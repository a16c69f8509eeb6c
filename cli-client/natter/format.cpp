#include "format.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "output_format.hpp"

namespace natter::term {

namespace {

std::tm local_tm(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  return tm;
}

std::string strftime_local(std::int64_t ms, const char* fmt) {
  const std::tm tm = local_tm(ms);
  char buf[128];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string local_time(std::int64_t ms) {
  return strftime_local(ms, "%Y-%m-%d %H:%M:%S");
}
std::string clock_time(std::int64_t ms) {
  return strftime_local(ms, "%H:%M");
}

std::string day_name(std::int64_t ms) {
  std::string s = strftime_local(ms, "%A %e %B %Y");
  // %e pads single-digit days with a space.
  if (auto pos = s.find("  "); pos != std::string::npos) s.erase(pos, 1);
  return s;
}

bool same_day(std::int64_t a_ms, std::int64_t b_ms) {
  const std::tm a = local_tm(a_ms);
  const std::tm b = local_tm(b_ms);
  return a.tm_year == b.tm_year && a.tm_yday == b.tm_yday;
}

std::string ago(std::int64_t then_ms, std::int64_t now) {
  const std::int64_t s = (now - then_ms) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return std::to_string(s / 60) + " min ago";
  if (s < 86400) return std::to_string(s / 3600) + " h ago";
  if (s < 86400 * 2) return "yesterday";
  if (s < 86400 * 7) return std::to_string(s / 86400) + " days ago";
  return "on " + strftime_local(then_ms, "%Y-%m-%d");
}

std::string ago_short(std::int64_t then_ms, std::int64_t now) {
  const std::int64_t s = (now - then_ms) / 1000;
  if (s < 60) return "now";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  if (s < 86400 * 7) return std::to_string(s / 86400) + "d";
  if (s < 86400 * 7 * 100) return std::to_string(s / (86400 * 7)) + "w";
  return "long";
}

std::string_view state_name(v1::PresenceState s) noexcept {
  switch (s) {
    case v1::PRESENCE_STATE_ONLINE:
      return "online";
    case v1::PRESENCE_STATE_AWAY:
      return "away";
    case v1::PRESENCE_STATE_OFFLINE:
      return "offline";
    default:
      return "unknown";
  }
}

std::string escape_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

std::string message_line(const v1::ChatMessage& m, std::string_view me) {
  const std::int64_t at = m.server_at_ms() != 0 ? m.server_at_ms() : m.sent_at_ms();
  std::string out = local_time(at) + " " + m.sender();
  if (m.recipient() != me || m.sender() == me) out += " -> " + m.recipient();
  out += ": " + escape_line(m.text());
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  cli::json_escape(out, s);
  out += '"';
  return out;
}

std::string message_json(const v1::ChatMessage& m) {
  std::string o = "{\"id\":" + std::to_string(m.id());
  o += ",\"sender\":" + json_string(m.sender());
  o += ",\"recipient\":" + json_string(m.recipient());
  o += ",\"text\":" + json_string(m.text());
  o += ",\"client_msg_id\":" + json_string(m.client_msg_id());
  o += ",\"sent_at_ms\":" + std::to_string(m.sent_at_ms());
  o += ",\"server_at_ms\":" + std::to_string(m.server_at_ms());
  o += ",\"reply_to\":" + std::to_string(m.reply_to());
  o += ",\"sender_device\":" + json_string(m.sender_device()) + "}";
  return o;
}

std::string presence_line(const v1::Presence& p) {
  std::string out = p.user();
  out += '\t';
  out += state_name(p.state());
  out += '\t';
  out += p.last_seen_ms() > 0 ? local_time(p.last_seen_ms()) : "never";
  out += '\t' + std::to_string(p.device_count());
  out += '\t' + escape_line(p.status_text());
  return out;
}

std::string presence_json(const v1::Presence& p) {
  std::string o = "{\"user\":" + json_string(p.user());
  o += ",\"state\":" + json_string(state_name(p.state()));
  o += ",\"last_seen_ms\":" + std::to_string(p.last_seen_ms());
  o += ",\"device_count\":" + std::to_string(p.device_count());
  o += ",\"status_text\":" + json_string(p.status_text());
  o += ",\"version\":" + std::to_string(p.version()) + "}";
  return o;
}

}  // namespace natter::term
