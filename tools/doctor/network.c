/* The transport and TLS checks, through the library's own layers
 * (lib/session's plan, lib/transport, lib/tls, lib/proto) so the codes and
 * messages are the ones a connect gives.  The transport check walks the
 * library's plan of endpoints (tdsc__endpoints_plan: shared memory, named
 * pipe, TCP for a local target; Transport=) exactly as a connect does
 * (tdsc__endpoint_resolve, tdsc__endpoint_open, and on to the next while
 * tdsc__endpoint_unreachable): the endpoint it reaches is the one every
 * later check uses.  Over it: the PRELOGIN answer (encryption offer, server
 * version); a TDS 7.x TLS handshake (inside PRELOGIN packets) and a TDS 8.0
 * strict one (TLS first, ALPN tds/8.0), each reporting protocol, cipher,
 * the certificate chain and the verification verdict.  The handshakes run
 * with verification in report-only mode (tls.h): the doctor must see the
 * certificate that verification would refuse. */
#include "config.h"

#include "clock.h"
#include "doctor/doctor.h"
#include "proto/proto.h"
#include "tls/tls.h"
#include "transport/io.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *enc_name(uint8_t e) {
  switch (e) {
  case TDSC__ENCRYPT_OFF: return "ENCRYPT_OFF";
  case TDSC__ENCRYPT_ON: return "ENCRYPT_ON";
  case TDSC__ENCRYPT_NOT_SUP: return "ENCRYPT_NOT_SUP";
  case TDSC__ENCRYPT_REQ: return "ENCRYPT_REQ";
  }
  return "an undefined value";
}

/* A new connection to the endpoint the transport check reached. */
static tdsc_errc reach(doc_ctx *d, tdsc__io **io, char *addr, size_t cap,
                       tdsc_error *err) {
  return tdsc__endpoint_open(&d->ep, tdsc__deadline_in(d->timeout_ms), io,
                             addr, cap, err);
}

/* One PRELOGIN request and its answer (MS-TDS 2.2.6.5), in clear. */
static tdsc_errc prelogin(tdsc__io *io, uint8_t enc, tdsc__prelogin *resp,
                          int64_t deadline, tdsc_error *err) {
  tdsc__prelogin pl = {.ver_major = TDSC_VERSION_MAJOR,
                       .ver_minor = TDSC_VERSION_MINOR,
                       .ver_build = TDSC_VERSION_PATCH,
                       .has_encryption = true,
                       .encryption = enc,
                       .has_instance = true,
                       .has_thread_id = true,
                       .thread_id = (uint32_t)getpid(),
                       .has_mars = true};
  tdsc__buf out, in;
  tdsc__buf_init(&out);
  tdsc__buf_init(&in);
  tdsc_errc rc = tdsc__prelogin_encode(&pl, &out, err);
  if (rc == TDSC_OK && out.oom)
    rc = tdsc__err_oom(err);
  if (rc != TDSC_OK)
    goto done;
  tdsc__pkt_hdr hdr = {.type = TDSC__PKT_PRELOGIN,
                       .status = TDSC__PKT_EOM,
                       .length = (uint16_t)(out.len + TDSC__PKT_HDR_LEN),
                       .packet_id = 1};
  uint8_t hb[TDSC__PKT_HDR_LEN];
  tdsc__pkt_hdr_encode(hb, &hdr);
  if ((rc = io->ops->write(io, hb, sizeof hb, deadline, err)) != TDSC_OK ||
      (rc = io->ops->write(io, out.data, out.len, deadline, err)) != TDSC_OK)
    goto done;
  for (;;) {
    if ((rc = tdsc__io_read_full(io, hb, sizeof hb, deadline, err)) !=
            TDSC_OK ||
        (rc = tdsc__pkt_hdr_decode(hb, TDSC__PKT_MAX, &hdr, err)) != TDSC_OK)
      goto done;
    size_t n = hdr.length - TDSC__PKT_HDR_LEN;
    uint8_t *p = tdsc__buf_extend(&in, n);
    if (!p) {
      rc = tdsc__err_oom(err);
      goto done;
    }
    if ((rc = tdsc__io_read_full(io, p, n, deadline, err)) != TDSC_OK)
      goto done;
    if (hdr.status & TDSC__PKT_EOM)
      break;
  }
  rc = tdsc__prelogin_decode(in.data, in.len, resp, err);
done:
  tdsc__buf_free(&out);
  tdsc__buf_free(&in);
  return rc;
}

static void tls_opts(doc_ctx *d, tdsc__tls_opts *o, bool strict,
                     const char *addr) {
  memset(o, 0, sizeof *o);
  o->host = d->ep.host; /* a pipe's or shared memory's: the local host */
  o->cert_host = tdsc__opt(&d->opts, TDSC__OPT_HOST_IN_CERT);
  o->cafile = tdsc__opt(&d->opts, TDSC__OPT_CAFILE);
  o->verify = false;
  o->report_only = true;
  o->strict = strict;
  o->peer = addr;
}

/* Facts of a finished handshake, and the status its verdict gives. */
static void tls_report(doc_ctx *d, doc_check *c, tdsc__io *io,
                       const tdsc__tls_opts *o, bool certs) {
  tdsc__tls_info info;
  if (tdsc__tls_peer_info(io, &info) != TDSC_OK)
    return;
  doc_fact_add(c, "protocol", "%s", info.version);
  doc_fact_add(c, "cipher", "%s", info.cipher);
  if (o->strict)
    doc_fact_add(c, "alpn", "%s", info.alpn[0] ? info.alpn : "(none)");
  for (size_t i = 0; certs && i < info.ncerts; i++) {
    const tdsc__tls_cert_info *ci = &info.certs[i];
    char key[48];
    snprintf(key, sizeof key, "cert %zu subject", i + 1);
    doc_fact_add(c, key, "%s", ci->subject);
    snprintf(key, sizeof key, "cert %zu issuer", i + 1);
    doc_fact_add(c, key, "%s", ci->issuer);
    snprintf(key, sizeof key, "cert %zu valid", i + 1);
    doc_fact_add(c, key, "%s .. %s", ci->not_before, ci->not_after);
    snprintf(key, sizeof key, "cert %zu names", i + 1);
    doc_fact_add(c, key, "%s", ci->sans);
  }
  doc_fact_add(c, "verified against", "%s%s, name %s%s",
               o->cafile ? "CAFile=" : "the system CA store",
               o->cafile ? o->cafile : "",
               o->cert_host ? o->cert_host : o->host,
               o->cert_host ? " (HostNameInCertificate=)" : "");
  doc_fact_add(c, "verify result", "%s", info.verify_text);
  tdsc_error err = {0};
  if (tdsc__tls_verdict(io, o, &err) == TDSC_OK) {
    doc_set(c, DOC_OK, TDSC_OK, NULL);
  } else if (d->opts.trust_cert) {
    /* the library connects all the same: say what it ignores */
    doc_set_error(c, DOC_WARN, &err);
    doc_fact_add(c, "note", "TrustServerCertificate=yes: the library does "
                 "not verify, and would connect");
  } else {
    doc_set_error(c, DOC_FAIL, &err);
  }
  tdsc__err_clear(&err);
}

static const char *ep_text(const tdsc__endpoint *ep, char *buf, size_t cap) {
  if (ep->kind != TDSC__EP_TCP)
    snprintf(buf, cap, "%s %s", tdsc__ep_name(ep->kind), ep->path);
  else if (ep->port)
    snprintf(buf, cap, "tcp %s,%u", ep->host, (unsigned)ep->port);
  else
    snprintf(buf, cap, "tcp %s\\%s (port from SQL Browser)", ep->host,
             ep->instance);
  return buf;
}

void doc_transport(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_TRANSPORT];
  tdsc_error err = {0};
  char plan[1400] = "", buf[600];
  for (size_t i = 0; i < d->nplan; i++)
    snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s%s",
             i ? ", then " : "", ep_text(&d->plan[i], buf, sizeof buf));
  doc_fact_add(c, "plan", "%s", plan);
  const char *tr = tdsc__opt(&d->opts, TDSC__OPT_TRANSPORT);
  doc_fact_add(c, "Transport", "%s", tr ? tr : "(not set: the default order)");
  for (size_t i = 0; i < d->nplan; i++) {
    tdsc__io *io = NULL;
    char addr[700] = "", key[32];
    long long t0 = doc_now_ms();
    int64_t deadline = tdsc__deadline_in(d->timeout_ms);
    d->ep = d->plan[i];
    tdsc__err_clear(&err);
    tdsc_errc rc = tdsc__endpoint_resolve(&d->opts, &d->ep, deadline, addr,
                                          sizeof addr, &err);
    if (rc == TDSC_OK)
      rc = tdsc__endpoint_open(&d->ep, deadline, &io, addr, sizeof addr, &err);
    tdsc__io_destroy_all(io);
    snprintf(key, sizeof key, "attempt %zu", i + 1);
    if (rc == TDSC_OK) {
      doc_fact_add(c, key, "%s: connected to %s (%lld ms)",
                   ep_text(&d->ep, buf, sizeof buf), addr, doc_now_ms() - t0);
      doc_fact_add(c, "used", "%s", tdsc__ep_name(d->ep.kind));
      d->ep_reached = true;
      doc_set(c, DOC_OK, TDSC_OK, NULL);
      break;
    }
    doc_fact_add(c, key, "%s: %s", ep_text(&d->ep, buf, sizeof buf),
                 tdsc_errc_name(rc));
    /* as the library: on to the next endpoint only while unreachable */
    if (!tdsc__endpoint_unreachable(rc) || i + 1 == d->nplan) {
      doc_set_error(c, DOC_FAIL, &err);
      break;
    }
  }
  tdsc__err_clear(&err);
}

/* The PRELOGIN offer, then (unless the server offers no TLS) the TDS 7.x
 * handshake on the same connection, as the library does it. */
static void check_tls7(doc_ctx *d) {
  doc_check *offer = &d->checks[DOC_TLS_OFFER], *c = &d->checks[DOC_TLS];
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  char addr[700] = "";
  if (reach(d, &io, addr, sizeof addr, &err) != TDSC_OK) {
    doc_set_error(offer, DOC_FAIL, &err);
    doc_set(c, DOC_SKIP, TDSC_OK, "no PRELOGIN answer");
    goto done;
  }
  tdsc__encrypt want = d->opts.encrypt;
  uint8_t sent = want == TDSC__ENC_MANDATORY || want == TDSC__ENC_STRICT
                     ? TDSC__ENCRYPT_ON
                     : TDSC__ENCRYPT_OFF;
  tdsc__prelogin resp;
  if (prelogin(io, sent, &resp, tdsc__deadline_in(d->timeout_ms), &err) !=
      TDSC_OK) {
    doc_set_error(offer, DOC_FAIL, &err);
    doc_set(c, DOC_SKIP, TDSC_OK, "no PRELOGIN answer");
    goto done;
  }
  uint8_t srv = resp.has_encryption ? resp.encryption : TDSC__ENCRYPT_NOT_SUP;
  doc_fact_add(offer, "sent", "%s", enc_name(sent));
  doc_fact_add(offer, "answer", "%s", enc_name(srv));
  doc_fact_add(offer, "server version", "%u.%u.%u", resp.ver_major,
               resp.ver_minor, resp.ver_build);
  const char *enc = tdsc__opt(&d->opts, TDSC__OPT_ENCRYPT);
  doc_fact_add(offer, "Encrypt", "%s", enc ? enc : "mandatory");
  if (srv == TDSC__ENCRYPT_NOT_SUP) {
    doc_set(offer, want == TDSC__ENC_OFF ? DOC_WARN : DOC_FAIL,
            TDSC_E_TLS_ENCRYPTION_UNAVAILABLE,
            "the server at %s answered ENCRYPT_NOT_SUP: it cannot encrypt "
            "(no certificate), so %s",
            addr,
            want == TDSC__ENC_OFF
                ? "everything, the login included, travels in clear"
                : "the library refuses logins that Encrypt= wants under TLS");
    doc_set(c, DOC_SKIP, TDSC_OK, "the server offers no TLS");
    goto done;
  }
  if (srv > TDSC__ENCRYPT_REQ) {
    doc_set(offer, DOC_FAIL, TDSC_E_PROTOCOL,
            "the server's PRELOGIN answer has encryption value 0x%02x, which "
            "MS-TDS does not define", srv);
    doc_set(c, DOC_SKIP, TDSC_OK, "no usable PRELOGIN answer");
    goto done;
  }
  doc_set(offer, DOC_OK, TDSC_OK, NULL);
  tdsc__tls_opts o;
  tls_opts(d, &o, false, addr);
  if (tdsc__tls_start(&io, &o, tdsc__deadline_in(d->timeout_ms), &err) !=
      TDSC_OK) {
    doc_set_error(c, DOC_FAIL, &err);
    goto done;
  }
  tls_report(d, c, io, &o, true);
done:
  tdsc__io_destroy_all(io);
  tdsc__err_clear(&err);
}

static void check_strict(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_TLS_STRICT];
  tdsc__io *io = NULL;
  tdsc_error err = {0};
  char addr[700] = "";
  if (reach(d, &io, addr, sizeof addr, &err) != TDSC_OK) {
    doc_set_error(c, DOC_FAIL, &err);
    goto done;
  }
  tdsc__tls_opts o;
  tls_opts(d, &o, true, addr);
  if (tdsc__tls_start(&io, &o, tdsc__deadline_in(d->timeout_ms), &err) !=
      TDSC_OK) {
    /* only a failure when the connection asks for strict */
    doc_set_error(c,
                  err.code == TDSC_E_TLS_STRICT_UNSUPPORTED &&
                          d->opts.encrypt != TDSC__ENC_STRICT
                      ? DOC_WARN
                      : DOC_FAIL,
                  &err);
    goto done;
  }
  tls_report(d, c, io, &o, false);
done:
  tdsc__io_destroy_all(io);
  tdsc__err_clear(&err);
}

void doc_tls(doc_ctx *d) {
  if (!d->ep_reached) {
    for (int i = DOC_TLS_OFFER; i <= DOC_TLS_STRICT; i++)
      doc_set(&d->checks[i], DOC_SKIP, TDSC_OK,
              "no endpoint of the plan accepts connections (see the "
              "transport check)");
    return;
  }
  check_tls7(d);
  check_strict(d);
}
