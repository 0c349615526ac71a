#include "runtime/tls_context.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace parley {

namespace ssl = boost::asio::ssl;

namespace {

/// A missing or unreadable file gets the OS reason, which OpenSSL 3 words poorly.
void require_readable(const std::string& key, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::runtime_error("cannot read --" + key + " " + path + ": " + std::strerror(errno));
}

[[noreturn]] void fail(const std::string& what, const boost::system::error_code& ec) {
  throw std::runtime_error(what + ": " + ec.message());
}

void load_pair(ssl::context& ctx, const std::string& cert_key, const std::string& cert,
               const std::string& key_key, const std::string& key) {
  require_readable(cert_key, cert);
  require_readable(key_key, key);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec)
    fail("--" + cert_key + " " + cert + " is not a PEM certificate", ec);
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  bool mismatch = ec && ec.category() == boost::asio::error::get_ssl_category()
                  && ERR_GET_REASON(static_cast<unsigned long>(ec.value()))
                       == X509_R_KEY_VALUES_MISMATCH;
  if (ec && !mismatch)
    fail("--" + key_key + " " + key + " is not a PEM private key", ec);
  if (mismatch || SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("--" + key_key + " " + key + " does not match the certificate "
                             + cert);
  }
}

} // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const std::string& cert_file,
                                                      const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2
                   | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1
                   | ssl::context::single_dh_use);
  load_pair(*ctx, "tls.cert", cert_file, "tls.key", key_file);
  return ctx;
}

void check_cluster_tls_files(const std::string& cert_file, const std::string& key_file,
                             const std::string& ca_file) {
  ssl::context ctx{ssl::context::tls};
  load_pair(ctx, "cluster.tls-cert", cert_file, "cluster.tls-key", key_file);
  require_readable("cluster.tls-cafile", ca_file);
  boost::system::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec)
    fail("--cluster.tls-cafile " + ca_file + " holds no PEM certificate", ec);
}

} // namespace parley
