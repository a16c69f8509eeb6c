// How `natter` prints chat data: times, the plain line formats of the script sub-commands
// (send, read, who, history) and their --json objects. Pure functions, so the formats
// docs/natter-cli.md promises are unit tested.
//
// Plain lines, one per item:
//   message   2026-11-25 14:03:12 bob: text              (to me)
//             2026-11-25 14:03:12 alice -> bob: text     (anything else)
//   presence  alice<TAB>online<TAB>2026-11-25 14:03:12<TAB>2<TAB>status text
// Times are local. A text's backslashes, newlines, carriage returns and tabs are written
// \\ \n \r \t, other control characters \xHH, so one item is always one line.
// JSON: one object per line, field names as in chat.proto, ids and times as numbers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "natter/chat/v1/chat.pb.h"

namespace natter::term {

namespace v1 = natter::chat::v1;

std::int64_t now_ms();

// "2026-11-25 14:03:12" in the local time zone.
std::string local_time(std::int64_t ms);
// "14:03".
std::string clock_time(std::int64_t ms);
// "Tuesday 25 November 2026" (the locale's names), for day markers.
std::string day_name(std::int64_t ms);
// Whether two times fall on the same local day.
bool same_day(std::int64_t a_ms, std::int64_t b_ms);
// "just now", "5 min ago", "3 h ago", "2 days ago", then the date.
std::string ago(std::int64_t then_ms, std::int64_t now_ms);
// "now", "5m", "3h", "2d", "4w": for narrow columns.
std::string ago_short(std::int64_t then_ms, std::int64_t now_ms);

std::string_view state_name(v1::PresenceState s) noexcept;  // "online", "away", "offline"

// The text of a message made one line (see above).
std::string escape_line(std::string_view text);

std::string message_line(const v1::ChatMessage& m, std::string_view me);
std::string message_json(const v1::ChatMessage& m);
std::string presence_line(const v1::Presence& p);
std::string presence_json(const v1::Presence& p);

// A JSON string literal (with the quotes), UTF-8 passed through.
std::string json_string(std::string_view s);

}  // namespace natter::term
