// How bytes move on each stream type: the only place where transports differ.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <vector>

namespace natter::transport {

template <class Stream>
struct stream_ops;

template <>
struct stream_ops<boost::asio::ip::tcp::socket> {
  template <class Handler>
  static void async_write(boost::asio::ip::tcp::socket& s,
                          const std::vector<boost::asio::const_buffer>& bufs, Handler&& h) {
    boost::asio::async_write(s, bufs, std::forward<Handler>(h));
  }
  static void close(boost::asio::ip::tcp::socket& s) {
    boost::system::error_code ignored;
    s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    s.close(ignored);
  }
};

}  // namespace natter::transport
