#include "pipeline/tls_files.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>
#include <system_error>
#include <vector>

#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace jobwire::pipeline {

namespace {

// What OpenSSL queued for the last call, the root cause first; empties the
// thread's queue.
std::vector<unsigned long> take_errors() {
  std::vector<unsigned long> xs;
  while (auto x = ERR_get_error())
    xs.push_back(x);
  return xs;
}

bool has_error(const std::vector<unsigned long>& xs, int lib, int reason) {
  for (auto x : xs)
    if (!ERR_SYSTEM_ERROR(x) && ERR_GET_LIB(x) == lib
        && ERR_GET_REASON(x) == reason)
      return true;
  return false;
}

// "cannot read --x=F: No such file or directory", or "--x=F cannot be used
// as `what`: " and OpenSSL's reason.
std::string refusal(const std::string& option, const char* what,
                    const std::vector<unsigned long>& xs) {
  if (xs.empty())
    return option + " cannot be used as " + what;
  if (ERR_SYSTEM_ERROR(xs.front()))
    return "cannot read " + option + ": "
           + std::generic_category().message(ERR_GET_REASON(xs.front()));
  auto reason = ERR_reason_error_string(xs.front());
  return option + " cannot be used as " + what + ": "
         + (reason ? reason : "unknown OpenSSL error");
}

// "Jan  2 00:00:00 2020 GMT".
std::string asn1_time(const ASN1_TIME* t) {
  std::unique_ptr<BIO, decltype(&BIO_free)> out{BIO_new(BIO_s_mem()),
                                                &BIO_free};
  if (!out || ASN1_TIME_print(out.get(), t) != 1)
    return "(a date OpenSSL cannot print)";
  char* text = nullptr;
  auto n = BIO_get_mem_data(out.get(), &text);
  return std::string{text, static_cast<size_t>(n)};
}

// "cannot read --x=F: No such file or directory" (or "it is a directory"),
// or "" for a file OpenSSL may read.
std::string unreadable(const std::string& option, const std::string& path) {
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f{
    std::fopen(path.c_str(), "rb"), &std::fclose};
  if (!f)
    return "cannot read " + option + ": "
           + std::generic_category().message(errno);
  // A directory opens, then reads as "no start line".
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode))
    return "cannot read " + option + ": it is a directory";
  return {};
}

// A key with a passphrase fails here rather than asking for it on the
// terminal: neither program takes a passphrase.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

} // namespace

std::string check_tls_files(const std::string& certificate,
                            const std::string& key,
                            const std::string& ca_file) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_method()), &SSL_CTX_free};
  if (!ctx)
    return "cannot make a TLS context to check the --caf-tls-* files";
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  auto cert_option = "--caf-tls-cert=" + certificate;
  auto key_option = "--caf-tls-key=" + key;
  auto ca_option = "--caf-tls-ca=" + ca_file;
  for (auto [option, path] : {std::pair{&cert_option, &certificate},
                              std::pair{&key_option, &key},
                              std::pair{&ca_option, &ca_file}})
    if (auto bad = unreadable(*option, *path); !bad.empty())
      return bad;
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), certificate.c_str()) != 1)
    return refusal(cert_option, "a PEM certificate", take_errors());
  // Loaded, an expired certificate still failed every handshake, with no
  // word on the server's side.
  if (auto cert = SSL_CTX_get0_certificate(ctx.get()); cert != nullptr) {
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
      return cert_option + " expired on " + asn1_time(X509_get0_notAfter(cert));
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
      return cert_option + " is not valid before "
             + asn1_time(X509_get0_notBefore(cert));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM)
      != 1) {
    auto xs = take_errors();
    if (has_error(xs, ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH))
      return key_option + " does not match " + cert_option;
    if (has_error(xs, ERR_LIB_PEM, PEM_R_BAD_PASSWORD_READ))
      return key_option + " has a passphrase: give the key without one";
    if (has_error(xs, ERR_LIB_OSSL_DECODER, ERR_R_UNSUPPORTED))
      return key_option + " holds no PEM private key that OpenSSL reads";
    return refusal(key_option, "a PEM private key", xs);
  }
  // A key of another type than the certificate's goes to another slot.
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    take_errors();
    return key_option + " does not match " + cert_option;
  }
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1)
    return refusal(ca_option, "a PEM CA file", take_errors());
  return {};
}

} // namespace jobwire::pipeline
