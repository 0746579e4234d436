/* Reads a JWT's header and claims (jwt.h): base64url (RFC 4648 section 5,
 * without padding as RFC 7515 section 2 has it) and just enough JSON
 * (RFC 8259) to take the top-level members entra.c names.  Nested values
 * are skipped to a bounded depth; anything else malformed is refused.
 * The same reader takes a token endpoint's answer (tdsc__oauth_reply_decode,
 * for oauth.c): the project's one JSON reader. */
#include "config.h"

#include "auth/jwt.h"
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16
#define MAX_PART 65536u /* a token part beyond this is not an access token */

static int b64url_val(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

/* Decodes n characters of base64url into a malloc'd buffer (*out, *outn).
 * False for a character outside the alphabet or an impossible length, or
 * (*oom) for memory. */
static bool b64url_decode(const char *s, size_t n, uint8_t **out, size_t *outn,
                          bool *oom) {
  while (n && s[n - 1] == '=') /* tolerated, though RFC 7515 omits it */
    n--;
  if (n % 4 == 1)
    return false;
  uint8_t *b = malloc(n * 3 / 4 + 1);
  if (!b)
    return *oom = true, false;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64url_val((unsigned char)s[i]);
    if (v < 0) {
      free(b);
      return false;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      b[o++] = (uint8_t)(acc >> bits);
    }
  }
  b[o] = 0;
  *out = b;
  *outn = o;
  return true;
}

/* A JSON reader over bytes: fails sticky, like the protocol's readers. */
typedef struct jr {
  const uint8_t *p;
  size_t n, pos;
  bool bad;
} jr;

static void ws(jr *r) {
  while (r->pos < r->n && (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' ||
                           r->p[r->pos] == '\n' || r->p[r->pos] == '\r'))
    r->pos++;
}

static bool eat(jr *r, char ch) {
  ws(r);
  if (r->pos < r->n && r->p[r->pos] == (uint8_t)ch) {
    r->pos++;
    return true;
  }
  return false;
}

static void put_utf8(char *dst, size_t cap, size_t *o, uint32_t c) {
  char tmp[4];
  size_t k;
  if (c < 0x80) {
    tmp[0] = (char)c;
    k = 1;
  } else if (c < 0x800) {
    tmp[0] = (char)(0xC0 | c >> 6);
    tmp[1] = (char)(0x80 | (c & 0x3F));
    k = 2;
  } else if (c < 0x10000) {
    tmp[0] = (char)(0xE0 | c >> 12);
    tmp[1] = (char)(0x80 | (c >> 6 & 0x3F));
    tmp[2] = (char)(0x80 | (c & 0x3F));
    k = 3;
  } else {
    tmp[0] = (char)(0xF0 | c >> 18);
    tmp[1] = (char)(0x80 | (c >> 12 & 0x3F));
    tmp[2] = (char)(0x80 | (c >> 6 & 0x3F));
    tmp[3] = (char)(0x80 | (c & 0x3F));
    k = 4;
  }
  if (dst && *o + k < cap) {
    memcpy(dst + *o, tmp, k);
    *o += k;
  }
}

static int hex4(jr *r) {
  if (r->n - r->pos < 4)
    return -1;
  int v = 0;
  for (int i = 0; i < 4; i++) {
    uint8_t ch = r->p[r->pos++];
    v <<= 4;
    if (ch >= '0' && ch <= '9')
      v |= ch - '0';
    else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
      v |= (ch | 0x20) - 'a' + 10;
    else
      return -1;
  }
  return v;
}

/* A string (the opening quote next), its text into dst (capacity cap,
 * cut to fit, always NUL-terminated) or nowhere when dst is NULL. */
static bool str(jr *r, char *dst, size_t cap) {
  size_t o = 0;
  if (!eat(r, '"'))
    return r->bad = true, false;
  while (r->pos < r->n) {
    uint8_t ch = r->p[r->pos++];
    if (ch == '"') {
      if (dst && cap)
        dst[o] = 0;
      return true;
    }
    if (ch < 0x20)
      break;
    if (ch != '\\') {
      if (dst && o + 1 < cap)
        dst[o++] = (char)ch;
      continue;
    }
    if (r->pos >= r->n)
      break;
    ch = r->p[r->pos++];
    const char *esc = strchr("\"\\/bfnrt", ch);
    if (ch && esc) {
      static const char map[] = "\"\\/\b\f\n\r\t";
      if (dst && o + 1 < cap)
        dst[o++] = map[esc - "\"\\/bfnrt"];
    } else if (ch == 'u') {
      int u = hex4(r);
      if (u < 0)
        break;
      uint32_t c = (uint32_t)u;
      if (c >= 0xD800 && c <= 0xDBFF && r->n - r->pos >= 6 &&
          r->p[r->pos] == '\\' && r->p[r->pos + 1] == 'u') {
        r->pos += 2;
        int lo = hex4(r);
        if (lo < 0xDC00 || lo > 0xDFFF)
          break;
        c = 0x10000 + ((c - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
      } else if (c >= 0xD800 && c <= 0xDFFF) {
        c = 0xFFFD; /* a lone surrogate */
      }
      put_utf8(dst, cap, &o, c);
    } else {
      break;
    }
  }
  r->bad = true;
  return false;
}

/* A number: its integer part into *v (a NumericDate may have a fraction,
 * RFC 7519 section 2), saturating far beyond any real date. */
static bool num(jr *r, int64_t *v) {
  ws(r);
  bool neg = r->pos < r->n && r->p[r->pos] == '-';
  if (neg)
    r->pos++;
  size_t start = r->pos;
  int64_t x = 0;
  while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
    if (x < INT64_MAX / 100)
      x = x * 10 + (r->p[r->pos] - '0');
    r->pos++;
  }
  if (r->pos == start)
    return r->bad = true, false;
  if (r->pos < r->n && r->p[r->pos] == '.') {
    r->pos++;
    while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
      r->pos++;
  }
  if (r->pos < r->n && (r->p[r->pos] | 0x20) == 'e') {
    r->pos++; /* an exponent: not a date this reader takes */
    if (r->pos < r->n && (r->p[r->pos] == '+' || r->p[r->pos] == '-'))
      r->pos++;
    while (r->pos < r->n && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
      r->pos++;
    x = 0;
  }
  *v = neg ? -x : x;
  return true;
}

static bool lit(jr *r, const char *w) {
  size_t k = strlen(w);
  ws(r);
  if (r->n - r->pos >= k && !memcmp(r->p + r->pos, w, k)) {
    r->pos += k;
    return true;
  }
  return r->bad = true, false;
}

static bool skip_value(jr *r, int depth);

static bool skip_container(jr *r, char close, bool obj, int depth) {
  if (depth > MAX_DEPTH)
    return r->bad = true, false;
  if (eat(r, close))
    return true;
  do {
    if (obj && (!str(r, NULL, 0) || !eat(r, ':')))
      return r->bad = true, false;
    if (!skip_value(r, depth + 1))
      return false;
  } while (eat(r, ','));
  return eat(r, close) || (r->bad = true, false);
}

static bool skip_value(jr *r, int depth) {
  int64_t v;
  ws(r);
  if (r->pos >= r->n)
    return r->bad = true, false;
  switch (r->p[r->pos]) {
  case '"': return str(r, NULL, 0);
  case '{': r->pos++; return skip_container(r, '}', true, depth);
  case '[': r->pos++; return skip_container(r, ']', false, depth);
  case 't': return lit(r, "true");
  case 'f': return lit(r, "false");
  case 'n': return lit(r, "null");
  default: return num(r, &v);
  }
}

static bool peek(jr *r, char ch) {
  ws(r);
  return r->pos < r->n && r->p[r->pos] == (uint8_t)ch;
}

/* One member of the claims object. */
static bool claim(jr *r, const char *key, tdsc__jwt_claims *c) {
  static const struct {
    const char *key;
    size_t off, cap;
  } strs[] = {
      {"iss", offsetof(tdsc__jwt_claims, iss), sizeof c->iss},
      {"tid", offsetof(tdsc__jwt_claims, tid), sizeof c->tid},
      {"oid", offsetof(tdsc__jwt_claims, oid), sizeof c->oid},
      {"upn", offsetof(tdsc__jwt_claims, upn), sizeof c->upn},
      {"unique_name", offsetof(tdsc__jwt_claims, unique_name),
       sizeof c->unique_name},
      {"appid", offsetof(tdsc__jwt_claims, appid), sizeof c->appid},
      {"azp", offsetof(tdsc__jwt_claims, appid), sizeof c->appid},
  };
  struct {
    const char *key;
    bool *has;
    int64_t *v;
  } nums[] = {{"exp", &c->has_exp, &c->exp},
              {"nbf", &c->has_nbf, &c->nbf},
              {"iat", &c->has_iat, &c->iat}};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (!strcmp(key, strs[i].key) && peek(r, '"'))
      return str(r, (char *)c + strs[i].off, strs[i].cap);
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    if (!strcmp(key, nums[i].key) && !peek(r, '"') && !peek(r, '{') &&
        !peek(r, '[')) {
      *nums[i].has = num(r, nums[i].v);
      return *nums[i].has;
    }
  if (!strcmp(key, "aud") && peek(r, '"')) {
    c->naud = 1;
    return str(r, c->aud[0], sizeof c->aud[0]);
  }
  if (!strcmp(key, "aud") && eat(r, '[')) {
    if (eat(r, ']'))
      return true;
    do {
      char tmp[256];
      if (!str(r, tmp, sizeof tmp))
        return false;
      if (c->naud < TDSC__JWT_MAX_AUD)
        memcpy(c->aud[c->naud++], tmp, sizeof tmp);
    } while (eat(r, ','));
    return eat(r, ']') || (r->bad = true, false);
  }
  return skip_value(r, 1);
}

/* A JSON object of the token (header or claims); hdr: take only "alg". */
static bool object(const uint8_t *p, size_t n, bool hdr, tdsc__jwt_claims *c) {
  jr r = {p, n, 0, false};
  if (!eat(&r, '{'))
    return false;
  if (!eat(&r, '}')) {
    do {
      char key[32];
      if (!str(&r, key, sizeof key) || !eat(&r, ':'))
        return false;
      bool ok = hdr && !strcmp(key, "alg") && peek(&r, '"')
                    ? str(&r, c->alg, sizeof c->alg)
                : hdr ? skip_value(&r, 1)
                      : claim(&r, key, c);
      if (!ok)
        return false;
    } while (eat(&r, ','));
    if (!eat(&r, '}'))
      return false;
  }
  ws(&r);
  return !r.bad && r.pos == r.n;
}

bool tdsc__jwt_decode(const char *token, tdsc__jwt_claims *c, char *why,
                      size_t cap) {
  memset(c, 0, sizeof *c);
  const char *d1 = strchr(token, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d1 || !d2 || strchr(d2 + 1, '.')) {
    snprintf(why, cap,
             "it is not three base64url parts split by '.' (a JWT in "
             "compact form); %s",
             strchr(token, '.') ? "it has a different number of parts"
             : *token == '{'    ? "it looks like JSON (a token response?)"
                                : "it has no '.' at all");
    return false;
  }
  const char *part[2] = {token, d1 + 1};
  size_t len[2] = {(size_t)(d1 - token), (size_t)(d2 - d1 - 1)};
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "claims (payload)" : "header";
    uint8_t *b = NULL;
    size_t n = 0;
    if (!len[i] || len[i] > MAX_PART ||
        !b64url_decode(part[i], len[i], &b, &n, &c->oom)) {
      snprintf(why, cap,
               c->oom ? "there is no memory to decode its %s"
                      : "its %s is not base64url of a reasonable size",
               name);
      return false;
    }
    bool ok = object(b, n, i == 0, c);
    free(b);
    if (!ok) {
      snprintf(why, cap, "its %s is not a JSON object", name);
      return false;
    }
  }
  if (d2[1] == 0) {
    snprintf(why, cap, "it has no signature (an unsigned token)");
    return false;
  }
  return true;
}

/* ------------------------------------------------ token responses */

/* One member of a token response. */
static bool reply_member(jr *r, const char *key, tdsc__oauth_reply *o) {
  static const struct {
    const char *key;
    size_t off, cap;
  } strs[] = {
      {"token_type", offsetof(tdsc__oauth_reply, token_type),
       sizeof o->token_type},
      {"error", offsetof(tdsc__oauth_reply, error), sizeof o->error},
      {"error_description", offsetof(tdsc__oauth_reply, error_description),
       sizeof o->error_description},
      {"message", offsetof(tdsc__oauth_reply, message), sizeof o->message},
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (!strcmp(key, strs[i].key) && peek(r, '"'))
      return str(r, (char *)o + strs[i].off, strs[i].cap);
  if (!strcmp(key, "access_token") && peek(r, '"')) {
    /* the token cannot be longer than the body that holds it */
    size_t cap = r->n - r->pos + 1;
    char *t = calloc(1, cap); /* zeros: NUL-terminated even if cut short */
    if (!t)
      return o->oom = r->bad = true, false;
    bool ok = str(r, t, cap);
    if (o->access_token) {
      tdsc__wipe(o->access_token, strlen(o->access_token));
      free(o->access_token);
    }
    o->access_token = t;
    o->token_len = ok ? strlen(t) : 0;
    return ok;
  }
  if (!strcmp(key, "error_codes") && eat(r, '[')) {
    if (eat(r, ']'))
      return true;
    do {
      int64_t v;
      if (peek(r, '"') || peek(r, '{') || peek(r, '['))
        return r->bad = true, false;
      if (!num(r, &v))
        return false;
      if (o->ncodes < TDSC__OAUTH_MAX_CODES)
        o->codes[o->ncodes++] = v;
    } while (eat(r, ','));
    return eat(r, ']') || (r->bad = true, false);
  }
  return skip_value(r, 1);
}

bool tdsc__oauth_reply_decode(const uint8_t *body, size_t n,
                              tdsc__oauth_reply *o, char *why, size_t cap) {
  memset(o, 0, sizeof *o);
  jr r = {body, n, 0, false};
  bool ok = eat(&r, '{');
  if (ok && !eat(&r, '}')) {
    do {
      char key[32];
      ok = str(&r, key, sizeof key) && eat(&r, ':') &&
           reply_member(&r, key, o);
    } while (ok && eat(&r, ','));
    ok = ok && eat(&r, '}');
  }
  ws(&r);
  if (ok && !r.bad && r.pos == r.n)
    return true;
  bool oom = o->oom;
  tdsc__oauth_reply_clear(o);
  o->oom = oom;
  snprintf(why, cap, "%s",
           oom              ? "no memory for the token"
           : !n             ? "the body is empty"
           : body[0] == '<' ? "the body looks like HTML or XML"
                            : "the body is not a well-formed JSON object");
  return false;
}

void tdsc__oauth_reply_clear(tdsc__oauth_reply *o) {
  if (o->access_token) {
    tdsc__wipe(o->access_token, strlen(o->access_token));
    free(o->access_token);
  }
  memset(o, 0, sizeof *o);
}
