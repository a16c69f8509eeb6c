// An OpenSSL server context from a listener's TLS settings (certfile, keyfile, cafile,
// capath, crlfile, require_certificate, tls_version, ciphers).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace natter::transport {

// Throws std::runtime_error("WHERE: what is wrong") when a file is missing or unusable.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::tls_config& tls,
                                                            const std::string& where);

}  // namespace natter::transport
