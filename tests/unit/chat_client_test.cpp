// Unit tests of the chat client library's pure parts (topics, user names) and of the
// `natter` terminal client's (UTF-8 and display widths, wrapping, the script output
// formats, the chat model: unread counts, watermarks, pending messages, presence order).
// The chat client itself talks to a real server in tests/integration/13_natter_cli.py.
#include "client/chat/chat_client.hpp"

#include <gtest/gtest.h>

#include <clocale>

#include "format.hpp"
#include "model.hpp"
#include "text.hpp"

namespace chat = natter::chat;
namespace term = natter::term;
namespace v1 = natter::chat::v1;

namespace {

// wcwidth() needs a UTF-8 LC_CTYPE, as the terminal client sets one.
class Utf8Locale : public ::testing::Environment {
 public:
  void SetUp() override { ASSERT_NE(std::setlocale(LC_CTYPE, "C.UTF-8"), nullptr); }
};
const auto* const utf8_env = ::testing::AddGlobalTestEnvironment(new Utf8Locale);

v1::ChatMessage msg(std::uint64_t id, std::string from, std::string to, std::string text,
                    std::string cmid = "") {
  v1::ChatMessage m;
  m.set_id(id);
  m.set_sender(std::move(from));
  m.set_recipient(std::move(to));
  m.set_text(std::move(text));
  m.set_client_msg_id(std::move(cmid));
  m.set_server_at_ms(1'700'000'000'000 + static_cast<std::int64_t>(id));
  return m;
}

v1::Receipt receipt(v1::ReceiptKind kind, std::string reader, std::string peer,
                    std::uint64_t up_to) {
  v1::Receipt r;
  r.set_kind(kind);
  r.set_reader(std::move(reader));
  r.set_peer(std::move(peer));
  r.set_up_to_id(up_to);
  return r;
}

}  // namespace

// ---------------------------------------------------------------- topics (docs/protocol.md)

TEST(ChatTopics, NamesFollowTheProtocolTable) {
  EXPECT_EQ(chat::topics::inbox("alice"), "chat/alice/inbox");
  EXPECT_EQ(chat::topics::outbox("alice"), "chat/alice/outbox");
  EXPECT_EQ(chat::topics::reply("alice", "dev1"), "chat/alice/reply/dev1");
  EXPECT_EQ(chat::topics::device_presence("alice", "dev1"), "presence/alice/dev1");
  EXPECT_EQ(chat::topics::presence("alice"), "presence/alice");
}

TEST(ChatTopics, AggregatePresenceIsExactlyTwoLevels) {
  EXPECT_EQ(chat::topics::presence_user("presence/alice"), "alice");
  EXPECT_FALSE(chat::topics::presence_user("presence/alice/dev1"));  // a device's
  EXPECT_FALSE(chat::topics::presence_user("presence/"));
  EXPECT_FALSE(chat::topics::presence_user("chat/alice/inbox"));
}

TEST(ChatTopics, UserNamesTheProtocolForbids) {  // "Identity": no / + #, no leading $
  EXPECT_TRUE(chat::valid_user_name("alice"));
  EXPECT_TRUE(chat::valid_user_name("\xd7\xa9\xd7\xa8\xd7\x94"));  // שרה
  EXPECT_TRUE(chat::valid_user_name("a$b"));
  EXPECT_FALSE(chat::valid_user_name(""));
  EXPECT_FALSE(chat::valid_user_name("a/b"));
  EXPECT_FALSE(chat::valid_user_name("a+"));
  EXPECT_FALSE(chat::valid_user_name("#"));
  EXPECT_FALSE(chat::valid_user_name("$SYS"));
  EXPECT_FALSE(chat::valid_user_name(std::string("a\0b", 3)));
}

TEST(ChatErrors, HaveTheirOwnCategory) {
  const std::error_code ec = chat::errc::request_timeout;
  EXPECT_EQ(ec.category().name(), std::string("natter.chat"));
  EXPECT_NE(ec.message().find("in time"), std::string::npos);
}

// ---------------------------------------------------------------- text

TEST(Text, Utf8RoundTripsEmojiAndRightToLeft) {
  const std::string s =
      "hi \xf0\x9f\x98\x80 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d "
      "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7";
  const std::wstring w = term::to_wide(s);
  EXPECT_EQ(w[3], L'\U0001F600');
  EXPECT_EQ(w[5], L'\u05E9');
  EXPECT_EQ(term::to_utf8(w), s);
}

TEST(Text, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(term::to_wide("a\xff"
                          "b"),
            L"a\uFFFDb");
  EXPECT_EQ(term::to_wide("\xc0\xaf"), L"\uFFFD");      // overlong '/'
  EXPECT_EQ(term::to_wide("\xed\xa0\x80"), L"\uFFFD");  // a surrogate
  EXPECT_EQ(term::to_wide("x\xe2\x82"), L"x\uFFFD");    // truncated
}

TEST(Text, WidthsCountColumns) {
  EXPECT_EQ(term::text_width(L"abc"), 3);
  EXPECT_EQ(term::text_width(L"\u65E5\u672C"), 4);  // CJK: two columns each
  EXPECT_EQ(term::text_width(L"\U0001F600"), 2);    // emoji
  EXPECT_EQ(term::text_width(L"e\u0301"), 1);       // combining acute
  EXPECT_EQ(term::text_width(L"\u05E9\u05DC"), 2);  // Hebrew
  EXPECT_EQ(term::text_width(L"\u2764\uFE0F"), 1);  // variation selector adds nothing
}

TEST(Text, SanitizeReplacesControlCharacters) {
  EXPECT_EQ(term::sanitize(L"a\x1b[2Jb\tc"), L"a\uFFFD[2Jb c");
  EXPECT_EQ(term::sanitize(L"a\nb", true), L"a\nb");
  EXPECT_EQ(term::sanitize(L"a\nb"), L"a\uFFFDb");
}

TEST(Text, WrapBreaksAtSpacesThenInsideWords) {
  EXPECT_EQ(term::wrap(L"hello world", 5), (std::vector<std::wstring>{L"hello", L"world"}));
  EXPECT_EQ(term::wrap(L"hello world again", 12),
            (std::vector<std::wstring>{L"hello world", L"again"}));
  EXPECT_EQ(term::wrap(L"abcdefgh", 3), (std::vector<std::wstring>{L"abc", L"def", L"gh"}));
  EXPECT_EQ(term::wrap(L"a\n\nb", 10), (std::vector<std::wstring>{L"a", L"", L"b"}));
  EXPECT_EQ(term::wrap(L"", 10), (std::vector<std::wstring>{L""}));
}

TEST(Text, WrapCountsWideCharactersAndKeepsCombiningMarks) {
  // Four CJK characters, 8 columns, in lines of 5 columns: two per line.
  EXPECT_EQ(term::wrap(L"\u65E5\u672C\u8A9E\u3067", 5),
            (std::vector<std::wstring>{L"\u65E5\u672C", L"\u8A9E\u3067"}));
  // The combining accent stays with its 'e'.
  EXPECT_EQ(term::wrap(L"abe\u0301cd", 3), (std::vector<std::wstring>{L"abe\u0301", L"cd"}));
  // An emoji wider than the line still goes somewhere.
  EXPECT_EQ(term::wrap(L"\U0001F600\U0001F600", 1),
            (std::vector<std::wstring>{L"\U0001F600", L"\U0001F600"}));
}

TEST(Text, FitCutsWithAnEllipsisAndPads) {
  EXPECT_EQ(term::fit(L"abcdef", 4), L"abc\u2026");
  EXPECT_EQ(term::fit(L"abcdef", 4, false), L"abcd");
  EXPECT_EQ(term::fit(L"ab", 4), L"ab");
  EXPECT_EQ(term::fit(L"\u65E5\u672C\u8A9E", 4), L"\u65E5\u2026");
  EXPECT_EQ(term::pad(L"ab", 4), L"ab  ");
  EXPECT_EQ(term::text_width(term::pad(L"\u65E5\u672C\u8A9E", 5)), 5);
}

// ---------------------------------------------------------------- output formats

TEST(Format, EscapeLineKeepsOneItemOnOneLine) {
  EXPECT_EQ(term::escape_line("a\nb\\c\td\re\x01"), "a\\nb\\\\c\\td\\re\\x01");
  EXPECT_EQ(term::escape_line("\xf0\x9f\x98\x80 \xd7\xa9"), "\xf0\x9f\x98\x80 \xd7\xa9");
}

TEST(Format, MessageLineNamesTheRecipientUnlessItIsMe) {
  const auto to_me = term::message_line(msg(7, "bob", "alice", "hi\nthere"), "alice");
  EXPECT_EQ(to_me.substr(19), " bob: hi\\nthere");
  EXPECT_EQ(to_me.size(), 19 + std::string(" bob: hi\\nthere").size());  // local time first
  const auto mine = term::message_line(msg(8, "alice", "bob", "yo"), "alice");
  EXPECT_EQ(mine.substr(19), " alice -> bob: yo");
}

TEST(Format, MessageJsonHasTheProtoFieldNames) {
  auto m = msg(42, "bob", "alice", "say \"hi\"\n\xf0\x9f\x98\x80", "c1");
  m.set_sent_at_ms(5);
  m.set_reply_to(41);
  m.set_sender_device("d");
  EXPECT_EQ(term::message_json(m),
            "{\"id\":42,\"sender\":\"bob\",\"recipient\":\"alice\",\"text\":\"say \\\"hi\\\"\\n"
            "\xf0\x9f\x98\x80\",\"client_msg_id\":\"c1\",\"sent_at_ms\":5,\"server_at_ms\":"
            "1700000000042,\"reply_to\":41,\"sender_device\":\"d\"}");
}

TEST(Format, PresenceLineIsTabSeparated) {
  v1::Presence p;
  p.set_user("carol");
  p.set_state(v1::PRESENCE_STATE_OFFLINE);
  EXPECT_EQ(term::presence_line(p), "carol\toffline\tnever\t0\t");
  p.set_state(v1::PRESENCE_STATE_AWAY);
  p.set_device_count(2);
  p.set_status_text("lunch\tbreak");
  p.set_last_seen_ms(1'700'000'000'000);
  const auto line = term::presence_line(p);
  EXPECT_TRUE(line.starts_with("carol\taway\t20")) << line;
  EXPECT_TRUE(line.ends_with("\t2\tlunch\\tbreak")) << line;
  EXPECT_EQ(term::presence_json(p),
            "{\"user\":\"carol\",\"state\":\"away\",\"last_seen_ms\":1700000000000,"
            "\"device_count\":2,\"status_text\":\"lunch\\tbreak\",\"version\":0}");
}

TEST(Format, AgesRoundDown) {
  const std::int64_t now = 1'700'000'000'000;
  EXPECT_EQ(term::ago(now - 10'000, now), "just now");
  EXPECT_EQ(term::ago(now - 5 * 60'000 - 59'000, now), "5 min ago");
  EXPECT_EQ(term::ago(now - 3 * 3'600'000, now), "3 h ago");
  EXPECT_EQ(term::ago(now - 3 * 86'400'000, now), "3 days ago");
  EXPECT_EQ(term::ago_short(now - 90'000, now), "1m");
  EXPECT_EQ(term::ago_short(now - 2 * 86'400'000, now), "2d");
}

// ---------------------------------------------------------------- the chat model

TEST(ChatModel, MessagesFromOthersCountAsUnreadOnce) {
  term::chat_model m("alice");
  EXPECT_EQ(m.on_message(msg(1, "bob", "alice", "a")), "bob");
  EXPECT_EQ(m.on_message(msg(2, "bob", "alice", "b")), "bob");
  m.on_message(msg(2, "bob", "alice", "b"));  // delivered again after a reconnect
  EXPECT_EQ(m.conv("bob").unread, 2u);
  EXPECT_EQ(m.conv("bob").messages.size(), 2u);
  EXPECT_EQ(m.on_message(msg(3, "alice", "bob", "mine")), "bob");
  EXPECT_EQ(m.conv("bob").unread, 2u);  // my own message is not unread
  EXPECT_EQ(m.total_unread(), 2u);
}

TEST(ChatModel, ReadWatermarkClearsUnread) {
  term::chat_model m("alice");
  for (std::uint64_t id : {1, 2, 3}) m.on_message(msg(id, "bob", "alice", "x"));
  EXPECT_TRUE(m.mark_read("bob", 2));
  EXPECT_EQ(m.conv("bob").unread, 1u);
  EXPECT_FALSE(m.mark_read("bob", 1));  // never lowers the watermark
  // Another device of mine read everything: its READ receipt comes through my inbox.
  EXPECT_EQ(m.on_receipt(receipt(v1::RECEIPT_KIND_READ, "alice", "bob", 3)), "bob");
  EXPECT_EQ(m.conv("bob").unread, 0u);
  EXPECT_FALSE(m.mark_read("bob", 3));
}

TEST(ChatModel, ReceiptsMarkMyMessages) {
  term::chat_model m("alice");
  m.on_message(msg(10, "alice", "bob", "one"));
  m.on_message(msg(11, "alice", "bob", "two"));
  const auto& c = m.conv("bob");
  EXPECT_EQ(m.mark_of("bob", c.messages.at(10)), term::mark::sent);
  m.on_receipt(receipt(v1::RECEIPT_KIND_DELIVERED, "bob", "alice", 11));
  EXPECT_EQ(m.mark_of("bob", c.messages.at(11)), term::mark::delivered);
  m.on_receipt(receipt(v1::RECEIPT_KIND_READ, "bob", "alice", 10));
  EXPECT_EQ(m.mark_of("bob", c.messages.at(10)), term::mark::read);
  EXPECT_EQ(m.mark_of("bob", c.messages.at(11)), term::mark::delivered);
  m.on_receipt(receipt(v1::RECEIPT_KIND_DELIVERED, "bob", "alice", 5));  // lower: ignored
  EXPECT_EQ(m.mark_of("bob", c.messages.at(11)), term::mark::delivered);
  // Receipts between other users are none of this conversation's business.
  EXPECT_EQ(m.on_receipt(receipt(v1::RECEIPT_KIND_READ, "bob", "carol", 99)), "");
}

TEST(ChatModel, PendingMessageIsReplacedByTheStampedCopy) {
  term::chat_model m("alice");
  m.add_pending("bob", {"cm-1", "hello", 1000, ""});
  m.add_pending("bob", {"cm-2", "again", 1001, ""});
  m.pending_failed("bob", "cm-2", "Payload format invalid (0x99)");
  EXPECT_EQ(m.conv("bob").pending.size(), 2u);
  m.on_message(msg(5, "alice", "bob", "hello", "cm-1"));
  ASSERT_EQ(m.conv("bob").pending.size(), 1u);
  EXPECT_EQ(m.conv("bob").pending[0].client_msg_id, "cm-2");
  EXPECT_FALSE(m.conv("bob").pending[0].error.empty());
  EXPECT_EQ(m.conv("bob").messages.count(5), 1u);
}

TEST(ChatModel, HistoryMergesAndCountsUnreadExactlyWhenComplete) {
  term::chat_model m("alice");
  v1::ConversationsResponse cr;
  auto* c = cr.add_conversations();
  c->set_peer("bob");
  c->set_unread_count(2);
  c->set_my_read_up_to(3);
  *c->mutable_last_message() = msg(5, "bob", "alice", "latest");
  m.on_conversations(cr);
  EXPECT_EQ(m.conv("bob").unread, 2u);

  v1::HistoryResponse h;
  h.set_peer("bob");
  for (std::uint64_t id : {5, 4, 3, 2})
    *h.add_messages() = msg(id, id % 2 ? "bob" : "alice", id % 2 ? "alice" : "bob", "x");
  h.set_has_more(true);
  h.set_peer_read_up_to(2);
  h.set_my_read_up_to(3);
  EXPECT_EQ(m.on_history(h), "bob");
  const auto& conv = m.conv("bob");
  EXPECT_EQ(conv.messages.size(), 4u);
  EXPECT_EQ(conv.unread, 1u);  // only 5 is from bob above my watermark 3 (4 is mine)
  EXPECT_EQ(conv.peer_read_up_to, 2u);
  EXPECT_EQ(m.mark_of("bob", conv.messages.at(2)), term::mark::read);
  EXPECT_EQ(m.mark_of("bob", conv.messages.at(4)), term::mark::sent);
}

TEST(ChatModel, PresenceKeepsTheNewestVersion) {
  term::chat_model m("alice");
  v1::Presence p;
  p.set_user("bob");
  p.set_state(v1::PRESENCE_STATE_ONLINE);
  p.set_version(5);
  m.on_presence(p);
  p.set_state(v1::PRESENCE_STATE_OFFLINE);
  p.set_version(4);
  m.on_presence(p);  // stale
  EXPECT_EQ(m.presence("bob")->state(), v1::PRESENCE_STATE_ONLINE);
  p.set_version(6);
  m.on_presence(p);
  EXPECT_EQ(m.presence("bob")->state(), v1::PRESENCE_STATE_OFFLINE);
  v1::Presence q;
  q.set_user("carol");
  m.on_presence(q);
  EXPECT_EQ(m.contacts(), (std::vector<std::string>{"bob", "carol"}));
}

TEST(ChatModel, TypingExpiresAndStopsWithAMessage) {
  term::chat_model m("alice");
  v1::Typing t;
  t.set_sender("bob");
  t.set_active(true);
  EXPECT_EQ(m.on_typing(t, 1000), "bob");
  EXPECT_TRUE(m.is_typing("bob", 6999));
  EXPECT_FALSE(m.is_typing("bob", 7001));  // ~6 s without a refresh
  m.on_typing(t, 8000);
  m.on_message(msg(1, "bob", "alice", "done typing"));
  EXPECT_FALSE(m.is_typing("bob", 8001));
  t.set_sender("alice");
  EXPECT_EQ(m.on_typing(t, 9000), "");  // my own devices' typing is not shown
}

TEST(ChatModel, NotesToSelfAreOneConversation) {
  term::chat_model m("alice");
  EXPECT_EQ(m.on_message(msg(1, "alice", "alice", "remember")), "alice");
  EXPECT_EQ(m.conv("alice").unread, 0u);
}
