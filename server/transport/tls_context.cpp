#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <stdexcept>

namespace natter::transport {
namespace ssl = boost::asio::ssl;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  std::string detail;
  if (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail = std::string(" (") + buf + ")";
  }
  ERR_clear_error();
  throw std::runtime_error(where + ": " + what + detail);
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const config::tls_config& tls,
                                               const std::string& where) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);

  int min_version = TLS1_2_VERSION;  // Mosquitto's default: TLS 1.2 and 1.3
  if (tls.min_version) {
    switch (*tls.min_version) {
      case config::tls_protocol_version::tlsv1_1:
        min_version = TLS1_1_VERSION;
        break;
      case config::tls_protocol_version::tlsv1_2:
        min_version = TLS1_2_VERSION;
        break;
      case config::tls_protocol_version::tlsv1_3:
        min_version = TLS1_3_VERSION;
        break;
    }
  }
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1)
    fail(where, "tls_version is not supported");

  if (SSL_CTX_use_certificate_chain_file(native, tls.certfile.c_str()) != 1)
    fail(where, "cannot load certfile " + tls.certfile.string());
  if (SSL_CTX_use_PrivateKey_file(native, tls.keyfile.c_str(), SSL_FILETYPE_PEM) != 1)
    fail(where, "cannot load keyfile " + tls.keyfile.string());
  if (SSL_CTX_check_private_key(native) != 1) fail(where, "keyfile does not match certfile");

  if (tls.cafile || tls.capath) {
    if (SSL_CTX_load_verify_locations(native, tls.cafile ? tls.cafile->c_str() : nullptr,
                                      tls.capath ? tls.capath->c_str() : nullptr) != 1)
      fail(where, "cannot load cafile/capath");
    if (tls.cafile) {
      // Tell clients which CAs we accept (helps clients with several certificates).
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.cafile->c_str()))
        SSL_CTX_set_client_CA_list(native, names);
    }
  }
  if (tls.crlfile) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (!lookup || X509_load_crl_file(lookup, tls.crlfile->c_str(), X509_FILETYPE_PEM) < 1)
      fail(where, "cannot load crlfile " + tls.crlfile->string());
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  if (tls.require_certificate) {
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else if (tls.cafile || tls.capath) {
    // Ask for a certificate, accept clients without one (as Mosquitto does).
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  if (tls.ciphers && SSL_CTX_set_cipher_list(native, tls.ciphers->c_str()) != 1)
    fail(where, "no usable cipher in `ciphers " + *tls.ciphers + "`");
  if (tls.ciphers_tls13 && SSL_CTX_set_ciphersuites(native, tls.ciphers_tls13->c_str()) != 1)
    fail(where, "no usable cipher suite in `ciphers_tls1.3 " + *tls.ciphers_tls13 + "`");
  return ctx;
}

}  // namespace natter::transport
