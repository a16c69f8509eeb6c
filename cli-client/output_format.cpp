#include "output_format.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace natter::cli {

namespace {

struct spec {
  char align = 0;  // '-' for left alignment
  char pad = ' ';  // '0' for zero padding (numbers and payloads)
  int width = 0;
  int precision = -1;
};

void put_padded(std::string& out, std::string_view s, const spec& f) {
  if (f.precision >= 0 && s.size() > static_cast<std::size_t>(f.precision))
    s = s.substr(0, static_cast<std::size_t>(f.precision));
  const std::size_t pad =
      f.width > 0 && s.size() < static_cast<std::size_t>(f.width) ? f.width - s.size() : 0;
  if (f.align != '-') out.append(pad, ' ');
  out.append(s);
  if (f.align == '-') out.append(pad, ' ');
}

void put_int(std::string& out, long long v, const spec& f) {
  char buf[32];
  if (f.width == 0) {
    std::snprintf(buf, sizeof buf, "%lld", v);
  } else if (f.align == '-') {
    std::snprintf(buf, sizeof buf, "%-*lld", f.width, v);
  } else if (f.pad == '0') {
    std::snprintf(buf, sizeof buf, "%0*lld", f.width, v);
  } else {
    std::snprintf(buf, sizeof buf, "%*lld", f.width, v);
  }
  out.append(buf);
}

void put_blank(std::string& out, char pad, const spec& f) {
  out.append(static_cast<std::size_t>(f.width), pad);
}

void put_payload(std::string& out, std::string_view payload, int hex, const spec& f) {
  const std::size_t shown = hex ? payload.size() * 2 : payload.size();
  const std::size_t pad =
      f.width > 0 && shown < static_cast<std::size_t>(f.width) ? f.width - shown : 0;
  if (f.align != '-') out.append(pad, f.pad);
  if (hex == 0) {
    out.append(payload);
  } else {
    static constexpr char lower[] = "0123456789abcdef";
    static constexpr char upper[] = "0123456789ABCDEF";
    const char* digits = hex == 1 ? lower : upper;
    for (unsigned char c : payload) {
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0x0F]);
    }
  }
  if (f.align == '-') out.append(pad, ' ');
}

struct clock_parts {
  std::tm tm{};
  long ns = 0;
  std::time_t secs = 0;
};

clock_parts split(std::chrono::system_clock::time_point now) {
  clock_parts c;
  const auto since = now.time_since_epoch();
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(since);
  c.secs = static_cast<std::time_t>(s.count());
  c.ns = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since - s).count());
  localtime_r(&c.secs, &c.tm);
  return c;
}

std::string strftime_str(const char* fmt, const std::tm& tm) {
  char buf[128];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

void put_json(std::string& out, const mqtt::publish& m, const clock_parts& t, bool escaped) {
  // {"tst":"2020-05-06T22:12:00.000000Z+0100",...}: mosquitto's timestamp, 'Z' and all.
  char frac[24];
  std::snprintf(frac, sizeof frac, "%06ld", t.ns / 1000);
  out += "{\"tst\":\"";
  out += strftime_str("%Y-%m-%dT%H:%M:%S", t.tm);
  out += '.';
  out += frac;
  out += 'Z';
  out += strftime_str("%z", t.tm);
  out += "\",\"topic\":\"";
  json_escape(out, m.topic);
  out += "\",\"qos\":";
  out += std::to_string(static_cast<int>(m.qos));
  out += ",\"retain\":";
  out += m.retain ? '1' : '0';
  out += ",\"payloadlen\":";
  out += std::to_string(m.payload.size());
  if (m.qos != mqtt::qos::at_most_once) {
    out += ",\"mid\":";
    out += std::to_string(m.packet_id);
  }
  const auto& p = m.props;
  const bool any = !p.user_properties.empty() || p.content_type || p.correlation_data ||
                   p.response_topic || p.payload_format_indicator || p.message_expiry_interval ||
                   p.topic_alias || !p.subscription_identifiers.empty();
  if (any) {
    out += ",\"properties\":{";
    bool first = true;
    auto key = [&](std::string_view k) {
      if (!first) out += ',';
      first = false;
      out += '"';
      out += k;
      out += "\":";
    };
    auto str = [&](std::string_view k, const std::string& v) {
      key(k);
      out += '"';
      json_escape(out, v);
      out += '"';
    };
    if (!p.user_properties.empty()) {
      key("user-properties");
      out += '{';
      for (std::size_t i = 0; i < p.user_properties.size(); ++i) {
        if (i) out += ',';
        out += '"';
        json_escape(out, p.user_properties[i].first);
        out += "\":\"";
        json_escape(out, p.user_properties[i].second);
        out += '"';
      }
      out += '}';
    }
    if (p.content_type) str("content-type", *p.content_type);
    if (p.correlation_data) str("correlation-data", *p.correlation_data);
    if (p.response_topic) str("response-topic", *p.response_topic);
    if (p.payload_format_indicator) {
      key("payload-format-indicator");
      out += std::to_string(*p.payload_format_indicator);
    }
    if (p.message_expiry_interval) {
      key("message-expiry-interval");
      out += std::to_string(*p.message_expiry_interval);
    }
    if (p.topic_alias) {
      key("topic-alias");
      out += std::to_string(*p.topic_alias);
    }
    for (auto id : p.subscription_identifiers) {
      key("subscription-identifier");
      out += std::to_string(id);
    }
    out += '}';
  }
  out += ",\"payload\":";
  if (escaped) {
    out += '"';
    json_escape(out, m.payload);
    out += '"';
  } else {
    out += m.payload;
  }
  out += '}';
}

// A small recursive-descent JSON validator (RFC 8259), enough to decide what %J may embed.
struct json_checker {
  std::string_view s;
  std::size_t i = 0;
  int depth = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool lit(std::string_view w) {
    if (s.substr(i, w.size()) != w) return false;
    i += w.size();
    return true;
  }
  bool string() {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        ++i;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i;
        if (i >= s.size()) return false;
        const char e = s[i];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            ++i;
            if (i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
      ++i;
    }
    return false;
  }
  bool digits() {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  }
  bool number() {
    if (i < s.size() && s[i] == '-') ++i;
    if (i < s.size() && s[i] == '0') {
      ++i;
    } else if (!digits()) {
      return false;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      if (!digits()) return false;
    }
    return true;
  }
  bool value() {
    if (++depth > 256) return false;
    ws();
    if (i >= s.size()) return false;
    bool ok = false;
    switch (s[i]) {
      case '{':
        ++i;
        ws();
        if (i < s.size() && s[i] == '}') {
          ++i;
          ok = true;
          break;
        }
        for (;;) {
          ws();
          if (!string()) break;
          ws();
          if (i >= s.size() || s[i] != ':') break;
          ++i;
          if (!value()) break;
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == '}') {
            ++i;
            ok = true;
          }
          break;
        }
        break;
      case '[':
        ++i;
        ws();
        if (i < s.size() && s[i] == ']') {
          ++i;
          ok = true;
          break;
        }
        for (;;) {
          if (!value()) break;
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == ']') {
            ++i;
            ok = true;
          }
          break;
        }
        break;
      case '"':
        ok = string();
        break;
      case 't':
        ok = lit("true");
        break;
      case 'f':
        ok = lit("false");
        break;
      case 'n':
        ok = lit("null");
        break;
      default:
        ok = number();
    }
    --depth;
    return ok;
  }
};

}  // namespace

void json_escape(std::string& out, std::string_view s) {
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
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
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
}

bool is_json(std::string_view s) {
  json_checker j{s};
  if (!j.value()) return false;
  j.ws();
  return j.i == s.size();
}

void render_message(std::string& out, const mqtt::publish& m, const print_options& p,
                    std::chrono::system_clock::time_point now, std::string& err) {
  if (p.format == nullptr) {
    // mosquitto_sub prints nothing at all for an empty payload, and "topic (null)" with -v.
    if (p.verbose) {
      if (!m.payload.empty()) {
        out += m.topic;
        out += ' ';
        out += m.payload;
        if (p.eol) out += '\n';
      } else if (p.eol) {
        out += m.topic;
        out += " (null)\n";
      }
    } else if (!m.payload.empty()) {
      out += m.payload;
      if (p.eol) out += '\n';
    }
    return;
  }

  const std::string& fmt = *p.format;
  const clock_parts t = split(now);
  const std::size_t len = fmt.size();
  for (std::size_t i = 0; i < len; ++i) {
    const char c = fmt[i];
    if (c == '%') {
      if (i + 1 >= len) break;
      spec f;
      ++i;
      if (fmt[i] == '-') {
        f.align = '-';
        if (i < len - 1) ++i;
      }
      if (fmt[i] == '0') {
        f.pad = '0';
        if (i < len - 1) ++i;
      }
      while (i < len - 1 && fmt[i] >= '0' && fmt[i] <= '9')
        f.width = f.width * 10 + (fmt[i++] - '0');
      if (fmt[i] == '.' && i < len - 1) {
        ++i;
        f.precision = 0;
        while (i < len - 1 && fmt[i] >= '0' && fmt[i] <= '9')
          f.precision = f.precision * 10 + (fmt[i++] - '0');
      }
      const auto& props = m.props;
      switch (fmt[i]) {
        case '%':
          out += '%';
          break;
        case 'A':
          if (props.topic_alias)
            put_int(out, *props.topic_alias, f);
          else
            put_blank(out, f.pad, f);
          break;
        case 'C':
          if (props.content_type)
            put_padded(out, *props.content_type, f);
          else
            put_blank(out, ' ', f);
          break;
        case 'D':
          if (props.correlation_data) out += *props.correlation_data;
          break;
        case 'E':
          if (props.message_expiry_interval)
            put_int(out, *props.message_expiry_interval, f);
          else
            put_blank(out, f.pad, f);
          break;
        case 'F':
          if (props.payload_format_indicator)
            put_int(out, *props.payload_format_indicator, f);
          else
            put_blank(out, f.pad, f);
          break;
        case 'I':
          put_padded(out, strftime_str("%FT%T%z", t.tm), f);
          break;
        case 'j':
        case 'J':
          if (fmt[i] == 'J' && !is_json(m.payload)) {
            // Reported, and the rest of the format printed, as mosquitto_sub does.
            err += "Error: Message payload is not valid JSON on topic " + m.topic + ".\n";
            break;
          }
          put_json(out, m, t, fmt[i] == 'j');
          break;
        case 'l':
          put_int(out, static_cast<long long>(m.payload.size()), f);
          break;
        case 'm':
          put_int(out, m.packet_id, f);
          break;
        case 'P':
          for (std::size_t k = 0; k < props.user_properties.size(); ++k) {
            if (k) out += ' ';
            out += props.user_properties[k].first;
            out += ':';
            out += props.user_properties[k].second;
          }
          break;
        case 'p':
          put_payload(out, m.payload, 0, f);
          break;
        case 'q':
          out += static_cast<char>('0' + static_cast<int>(m.qos));
          break;
        case 'R':
          if (props.response_topic) put_padded(out, *props.response_topic, f);
          break;
        case 'r':
          out += m.retain ? '1' : '0';
          break;
        case 'S':
          if (!props.subscription_identifiers.empty())
            put_int(out, props.subscription_identifiers.front(), f);
          else
            put_blank(out, f.pad, f);
          break;
        case 't':
          put_padded(out, m.topic, f);
          break;
        case 'U': {
          char buf[48];
          std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(t.secs), t.ns);
          out += buf;
          break;
        }
        case 'x':
          put_payload(out, m.payload, 1, f);
          break;
        case 'X':
          put_payload(out, m.payload, 2, f);
          break;
        default:
          break;
      }
    } else if (c == '@') {
      if (i + 1 >= len) break;
      ++i;
      if (fmt[i] == '@') {
        out += '@';
      } else if (fmt[i] == 'N') {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%09ld", t.ns);
        out += buf;
      } else {
        const char strf[3] = {'%', fmt[i], 0};
        out += strftime_str(strf, t.tm);
      }
    } else if (c == '\\') {
      if (i + 1 >= len) break;
      ++i;
      switch (fmt[i]) {
        case '\\':
          out += '\\';
          break;
        case '0':
          out += '\0';
          break;
        case 'a':
          out += '\a';
          break;
        case 'e':
          out += '\033';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        default:
          break;
      }
    } else {
      out += c;
    }
  }
  if (p.eol) out += '\n';
}

}  // namespace natter::cli
