// PUBLISH templates and in-place PUBLISH reading (see wire.hpp).
#include "wire.hpp"

#include <stdexcept>
#include <utility>

#include "mqtt/codec.hpp"

namespace natter::bench {

publish_template::publish_template(std::string topic, std::size_t payload_size, mqtt::qos q,
                                   bool retain, mqtt::version v)
    : qos_(q) {
  if (payload_size < stamp_size)
    throw std::invalid_argument("payload must hold at least " + std::to_string(stamp_size) +
                                " bytes (the stamp)");
  mqtt::publish p;
  p.topic = std::move(topic);
  p.payload.assign(payload_size, 'x');
  p.qos = q;
  p.retain = retain;
  p.packet_id = q == mqtt::qos::at_most_once ? 0 : 1;
  mqtt::encode(p, v, bytes_);
  // The payload ends the packet; the packet id follows the topic (3.3.2).
  payload_offset_ = bytes_.size() - payload_size;
  const auto f = next_frame(bytes_);
  if (!f || f->size != bytes_.size()) throw std::logic_error("publish_template: bad encoding");
  if (q != mqtt::qos::at_most_once) id_offset_ = f->header_size + 2 + p.topic.size();
}

void publish_template::append(std::vector<std::uint8_t>& out, std::uint16_t packet_id,
                              const stamp& s) const {
  const std::size_t at = out.size();
  out.insert(out.end(), bytes_.begin(), bytes_.end());
  if (id_offset_ != 0) {
    out[at + id_offset_] = static_cast<std::uint8_t>(packet_id >> 8);
    out[at + id_offset_ + 1] = static_cast<std::uint8_t>(packet_id & 0xFF);
  }
  std::memcpy(out.data() + at + payload_offset_, &s, stamp_size);
}

std::optional<frame> next_frame(std::span<const std::uint8_t> in) {
  if (in.size() < 2) return std::nullopt;
  std::size_t length = 0;
  unsigned shift = 0;
  for (std::size_t i = 1; i < 5; ++i) {
    if (i >= in.size()) return std::nullopt;
    length |= static_cast<std::size_t>(in[i] & 0x7F) << shift;
    if ((in[i] & 0x80) == 0) {
      const std::size_t total = i + 1 + length;
      if (in.size() < total) return std::nullopt;
      return frame{in[0], i + 1, total};
    }
    shift += 7;
  }
  return frame{in[0], 0, 0};  // a fifth length byte: malformed (1.5.5)
}

namespace {

// A Variable Byte Integer at in[pos]; false if it runs past `end` or past 4 bytes.
bool skip_varint(std::span<const std::uint8_t> in, std::size_t& pos, std::size_t& value) {
  value = 0;
  for (unsigned i = 0, shift = 0; i < 4; ++i, shift += 7) {
    if (pos >= in.size()) return false;
    const auto b = in[pos++];
    value |= static_cast<std::size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

bool read_publish(std::span<const std::uint8_t> packet, const frame& f, mqtt::version v,
                  publish_view& out) {
  const std::uint8_t flags = f.header & 0x0F;
  out.dup = (flags & 0x08) != 0;
  out.qos = static_cast<mqtt::qos>((flags >> 1) & 0x03);
  out.retain = (flags & 0x01) != 0;
  if (static_cast<unsigned>(out.qos) > 2) return false;
  std::size_t pos = f.header_size;
  if (pos + 2 > packet.size()) return false;
  const std::size_t topic_len = (std::size_t{packet[pos]} << 8) | packet[pos + 1];
  pos += 2;
  if (pos + topic_len > packet.size()) return false;
  out.topic = {reinterpret_cast<const char*>(packet.data() + pos), topic_len};
  pos += topic_len;
  out.packet_id = 0;
  if (out.qos != mqtt::qos::at_most_once) {
    if (pos + 2 > packet.size()) return false;
    out.packet_id = static_cast<std::uint16_t>((packet[pos] << 8) | packet[pos + 1]);
    pos += 2;
  }
  if (v == mqtt::version::v5) {
    std::size_t props = 0;
    if (!skip_varint(packet, pos, props) || pos + props > packet.size()) return false;
    pos += props;
  }
  out.payload = packet.subspan(pos);
  return true;
}

}  // namespace natter::bench
