// Text for a terminal: UTF-8 <-> wide strings, display widths, wrapping and cutting to
// columns.
//
// Decoding is our own (not mbrtowc) so that it does not depend on the locale and never
// fails: an invalid byte becomes U+FFFD. Widths come from wcwidth(), which needs a UTF-8
// LC_CTYPE (the terminal client sets one); a character it does not know, or a control
// character, counts as one column after sanitize() replaced it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace natter::term {

std::wstring to_wide(std::string_view utf8);
std::string to_utf8(std::wstring_view wide);

// Columns one character takes: 0 (combining marks, joiners, variation selectors), 1 or 2.
int char_width(wchar_t c) noexcept;
int text_width(std::wstring_view s) noexcept;

// Control characters (other than '\n' when keep_newlines) become U+FFFD, tabs a space:
// what is left can be printed and measured.
std::wstring sanitize(std::wstring_view s, bool keep_newlines = false);

// Lines of at most `width` columns: breaks at '\n', then at the last space that fits,
// else inside a word. A zero-width character stays with the one before it.
std::vector<std::wstring> wrap(std::wstring_view s, int width);

// The longest prefix of `s` that fits in `width` columns; with an ellipsis ("…") at the
// end when `s` was cut.
std::wstring fit(std::wstring_view s, int width, bool ellipsis = true);

// Pads with spaces (after cutting to width) to exactly `width` columns.
std::wstring pad(std::wstring_view s, int width);

}  // namespace natter::term
