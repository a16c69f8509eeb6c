#include "text.hpp"

#include <cwchar>

namespace natter::term {

namespace {
constexpr char32_t replacement = 0xFFFD;
}

std::wstring to_wide(std::string_view in) {
  std::wstring out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    int len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (b < 0x80) {
      out.push_back(static_cast<wchar_t>(b));
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      out.push_back(static_cast<wchar_t>(replacement));
      ++i;
      continue;
    }
    int got = 1;
    while (got < len && i + static_cast<std::size_t>(got) < in.size() &&
           (static_cast<unsigned char>(in[i + static_cast<std::size_t>(got)]) & 0xC0) == 0x80) {
      cp = (cp << 6) | (static_cast<unsigned char>(in[i + static_cast<std::size_t>(got)]) & 0x3F);
      ++got;
    }
    i += static_cast<std::size_t>(got);
    // Truncated, overlong, surrogate or beyond U+10FFFF: one replacement for the lot.
    if (got < len || cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = replacement;
    out.push_back(static_cast<wchar_t>(cp));
  }
  return out;
}

std::string to_utf8(std::wstring_view in) {
  std::string out;
  out.reserve(in.size());
  for (const wchar_t wc : in) {
    auto cp = static_cast<char32_t>(wc);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = replacement;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

int char_width(wchar_t c) noexcept {
  if (c == 0x200D || (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF))
    return 0;  // zero width joiner, variation selectors
  const int w = ::wcwidth(c);
  return w < 0 ? 1 : w;
}

int text_width(std::wstring_view s) noexcept {
  int w = 0;
  for (const wchar_t c : s) w += char_width(c);
  return w;
}

std::wstring sanitize(std::wstring_view s, bool keep_newlines) {
  std::wstring out;
  out.reserve(s.size());
  for (const wchar_t c : s) {
    if (c == L'\n' && keep_newlines) {
      out.push_back(c);
    } else if (c == L'\t') {
      out.push_back(L' ');
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || c == 0x2028 || c == 0x2029) {
      out.push_back(static_cast<wchar_t>(replacement));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::wstring> wrap(std::wstring_view s, int width) {
  std::vector<std::wstring> lines;
  if (width < 1) width = 1;
  std::size_t start = 0;
  while (true) {
    const std::size_t nl = s.find(L'\n', start);
    std::wstring_view para = s.substr(start, nl == std::wstring_view::npos ? s.npos : nl - start);
    // One paragraph: greedy, breaking after the last space that fits.
    while (true) {
      int w = 0;
      std::size_t i = 0;
      std::size_t last_space = std::wstring_view::npos;
      while (i < para.size()) {
        const int cw = char_width(para[i]);
        if (w + cw > width) break;
        w += cw;
        if (para[i] == L' ') last_space = i;
        ++i;
      }
      // Zero-width characters belong to the character before them.
      while (i < para.size() && char_width(para[i]) == 0) ++i;
      if (i >= para.size()) {
        lines.emplace_back(para);
        break;
      }
      std::size_t cut = i;
      std::size_t next = i;
      if (para[i] == L' ') {
        next = i + 1;  // the break falls on a space: drop it
      } else if (last_space != std::wstring_view::npos && last_space > 0) {
        cut = last_space;
        next = last_space + 1;
      } else if (i == 0) {
        cut = next = 1;  // a character wider than the line: put it there anyway
        while (next < para.size() && char_width(para[next]) == 0) cut = ++next;
      }
      lines.emplace_back(para.substr(0, cut));
      para = para.substr(next);
      if (para.empty()) break;
    }
    if (nl == std::wstring_view::npos) break;
    start = nl + 1;
  }
  return lines;
}

std::wstring fit(std::wstring_view s, int width, bool ellipsis) {
  if (width <= 0) return {};
  if (text_width(s) <= width) return std::wstring(s);
  const int room = ellipsis ? width - 1 : width;
  std::wstring out;
  int w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int cw = char_width(s[i]);
    if (w + cw > room) break;
    w += cw;
    out.push_back(s[i]);
  }
  if (ellipsis) out.push_back(L'\u2026');
  return out;
}

std::wstring pad(std::wstring_view s, int width) {
  std::wstring out = fit(s, width);
  const int w = text_width(out);
  if (w < width) out.append(static_cast<std::size_t>(width - w), L' ');
  return out;
}

}  // namespace natter::term
