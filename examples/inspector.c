/*
 * Request inspector: a legacy (WITX ABI) Fastly Compute app in plain C, with no SDK. It answers
 * every request with an HTML page showing what the request looked like from inside the guest
 * (method, URL, HTTP version, headers, client IP) and the list of hostcalls it made to build
 * that page, in order, with the status each returned. Served by `npm start`.
 *
 * Build: examples/build.sh (clang --target=wasm32-wasi). The built inspector.wasm is committed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint32_t handle_t;
typedef int32_t status_t; /* fastly_status: 0 ok, 1 error, 2 inval, 3 badf, 4 buflen, ... */

#define HOSTCALL(module, name) __attribute__((import_module(module), import_name(name)))

/* Signatures follow witx/compute-at-edge.witx (check with `witshim inspect examples/inspector.wasm`). */
HOSTCALL("fastly_abi", "init") status_t fastly_abi_init(uint64_t abi_version);
HOSTCALL("fastly_http_req", "body_downstream_get") status_t req_body_downstream_get(handle_t *req_out, handle_t *body_out);
HOSTCALL("fastly_http_req", "method_get") status_t req_method_get(handle_t req, char *buf, size_t buf_len, size_t *nwritten);
HOSTCALL("fastly_http_req", "uri_get") status_t req_uri_get(handle_t req, char *buf, size_t buf_len, size_t *nwritten);
HOSTCALL("fastly_http_req", "version_get") status_t req_version_get(handle_t req, uint32_t *version_out);
HOSTCALL("fastly_http_req", "header_names_get")
status_t req_header_names_get(handle_t req, char *buf, size_t buf_len, uint32_t cursor, int64_t *ending_cursor, size_t *nwritten);
HOSTCALL("fastly_http_req", "header_values_get")
status_t req_header_values_get(handle_t req, const char *name, size_t name_len, char *buf, size_t buf_len, uint32_t cursor,
                               int64_t *ending_cursor, size_t *nwritten);
HOSTCALL("fastly_http_req", "downstream_client_ip_addr") status_t req_downstream_client_ip_addr(uint8_t *octets_out, size_t *nwritten);
HOSTCALL("fastly_http_resp", "new") status_t resp_new(handle_t *resp_out);
HOSTCALL("fastly_http_resp", "status_set") status_t resp_status_set(handle_t resp, uint16_t status);
HOSTCALL("fastly_http_resp", "header_insert")
status_t resp_header_insert(handle_t resp, const char *name, size_t name_len, const char *value, size_t value_len);
HOSTCALL("fastly_http_resp", "send_downstream") status_t resp_send_downstream(handle_t resp, handle_t body, uint32_t streaming);
HOSTCALL("fastly_http_body", "new") status_t body_new(handle_t *body_out);
HOSTCALL("fastly_http_body", "write")
status_t body_write(handle_t body, const char *buf, size_t buf_len, uint32_t end, size_t *nwritten);

/* ---- the record of hostcalls made ---- */

#define MAX_CALLS 96
static struct {
  const char *name;
  status_t status;
  char detail[120];
} calls[MAX_CALLS];
static int ncalls, dropped_calls;

static status_t record(const char *name, status_t status, const char *detail) {
  if (ncalls == MAX_CALLS) {
    dropped_calls++;
    return status;
  }
  calls[ncalls].name = name;
  calls[ncalls].status = status;
  snprintf(calls[ncalls].detail, sizeof calls[ncalls].detail, "%s", detail ? detail : "");
  ncalls++;
  return status;
}

/* ---- the page, built in memory ---- */

static char page[96 * 1024];
static size_t page_len;

static void put(const char *text) {
  size_t n = strlen(text);
  if (page_len + n >= sizeof page) n = sizeof page - 1 - page_len;
  memcpy(page + page_len, text, n);
  page_len += n;
}

static void put_escaped(const char *text, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    char one[2] = {c, 0};
    put(c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : one);
  }
}

static void put_row(const char *key, const char *value, size_t len) {
  put("<tr><th>");
  put(key);
  put("</th><td><code>");
  put_escaped(value, len);
  put("</code></td></tr>\n");
}

#define PENDING (-1)

static const char *status_name(status_t s) {
  if (s == PENDING) return "(next)";
  static const char *names[] = {"ok", "error", "inval", "badf", "buflen", "unsupported", "badalign", "httpinvalid",
                                "httpuser", "httpincomplete", "none", "httpheadtoolarge", "httpinvalidstatus", "limitexceeded", "again"};
  return s >= 0 && s < (status_t)(sizeof names / sizeof names[0]) ? names[s] : "?";
}

int main(void) {
  char detail[120];
  record("fastly_abi#init", fastly_abi_init(1), "abi_version=1");

  handle_t req = 0, req_body = 0;
  status_t st = req_body_downstream_get(&req, &req_body);
  snprintf(detail, sizeof detail, "request=%u body=%u", req, req_body);
  record("fastly_http_req#body_downstream_get", st, detail);

  static char method[64], uri[8192];
  size_t method_len = 0, uri_len = 0;
  st = req_method_get(req, method, sizeof method, &method_len);
  snprintf(detail, sizeof detail, "%zu bytes", method_len);
  record("fastly_http_req#method_get", st, detail);
  st = req_uri_get(req, uri, sizeof uri, &uri_len);
  snprintf(detail, sizeof detail, "%zu bytes", uri_len);
  record("fastly_http_req#uri_get", st, detail);

  uint32_t version = 0;
  st = req_version_get(req, &version);
  static const char *versions[] = {"HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"};
  const char *version_text = version < 5 ? versions[version] : "?";
  snprintf(detail, sizeof detail, "%u (%s)", version, version_text);
  record("fastly_http_req#version_get", st, detail);

  uint8_t octets[16];
  size_t octet_count = 0;
  char client_ip[64] = "(unknown)";
  st = req_downstream_client_ip_addr(octets, &octet_count);
  if (st == 0 && octet_count == 4) {
    snprintf(client_ip, sizeof client_ip, "%u.%u.%u.%u", octets[0], octets[1], octets[2], octets[3]);
  } else if (st == 0 && octet_count == 16) {
    size_t at = 0;
    for (int i = 0; i < 16; i += 2) at += snprintf(client_ip + at, sizeof client_ip - at, i ? ":%x" : "%x", (octets[i] << 8) | octets[i + 1]);
  }
  snprintf(detail, sizeof detail, "%zu octets", octet_count);
  record("fastly_http_req#downstream_client_ip_addr", st, detail);

  put("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>witshim request inspector</title>\n"
      "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}"
      "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}"
      "code{word-break:break-all}.bad{color:#b00}</style></head><body>\n"
      "<h1>Request inspector</h1>\n<p>A legacy Fastly Compute core module written in C (no SDK), adapted into a "
      "<code>fastly:compute@0.1.0</code> component and served by <code>witshim serve</code>.</p>\n"
      "<h2>Request</h2>\n<table>\n");
  put_row("method", method, method_len);
  put_row("URL", uri, uri_len);
  put_row("version", version_text, strlen(version_text));
  put_row("client IP", client_ip, strlen(client_ip));
  put("</table>\n<h2>Headers</h2>\n<table>\n");

  /* Names come NUL-separated, a buffer at a time; the cursor says where to continue. */
  static char names[4096], values[8192];
  int64_t cursor = 0;
  int header_count = 0;
  while (cursor >= 0) {
    int64_t next = -1;
    size_t names_len = 0;
    st = req_header_names_get(req, names, sizeof names, (uint32_t)cursor, &next, &names_len);
    snprintf(detail, sizeof detail, "cursor=%lld -> %zu bytes, next=%lld", (long long)cursor, names_len, (long long)next);
    record("fastly_http_req#header_names_get", st, detail);
    if (st != 0) break;
    for (size_t at = 0; at < names_len;) {
      const char *name = names + at;
      size_t name_len = strnlen(name, names_len - at);
      int64_t vcursor = 0;
      put("<tr><th>");
      put_escaped(name, name_len);
      put("</th><td>");
      while (vcursor >= 0) {
        int64_t vnext = -1;
        size_t values_len = 0;
        st = req_header_values_get(req, name, name_len, values, sizeof values, (uint32_t)vcursor, &vnext, &values_len);
        snprintf(detail, sizeof detail, "%.*s: %zu bytes", (int)(name_len > 60 ? 60 : name_len), name, values_len);
        record("fastly_http_req#header_values_get", st, detail);
        if (st != 0) break;
        for (size_t v = 0; v < values_len;) {
          size_t value_len = strnlen(values + v, values_len - v);
          put("<code>");
          put_escaped(values + v, value_len);
          put("</code><br>");
          v += value_len + 1;
        }
        vcursor = vnext;
      }
      put("</td></tr>\n");
      header_count++;
      at += name_len + 1;
    }
    cursor = next;
  }
  put("</table>\n");

  handle_t resp = 0, body = 0;
  st = resp_new(&resp);
  snprintf(detail, sizeof detail, "response=%u", resp);
  record("fastly_http_resp#new", st, detail);
  record("fastly_http_resp#status_set", resp_status_set(resp, 200), "200");
  static const char content_type[] = "text/html; charset=utf-8";
  record("fastly_http_resp#header_insert", resp_header_insert(resp, "content-type", 12, content_type, sizeof content_type - 1), "content-type");
  static const char served_by[] = "witshim request inspector (C, legacy ABI)";
  record("fastly_http_resp#header_insert", resp_header_insert(resp, "x-served-by", 11, served_by, sizeof served_by - 1), "x-served-by");
  st = body_new(&body);
  snprintf(detail, sizeof detail, "body=%u", body);
  record("fastly_http_body#new", st, detail);

  /* These two happen after the list is written (it is what they send), so their status is not known yet. */
  record("fastly_http_body#write", PENDING, "this page, after this list was written");
  record("fastly_http_resp#send_downstream", PENDING, "streaming=0, after this list was written");

  char line[64];
  snprintf(line, sizeof line, "<h2>Hostcalls (%d)</h2>\n<table>\n", ncalls);
  put(line);
  put("<tr><th>#</th><th>hostcall</th><th>status</th><th>detail</th></tr>\n");
  for (int i = 0; i < ncalls; i++) {
    snprintf(line, sizeof line, "<tr><td>%d</td><td><code>", i + 1);
    put(line);
    put(calls[i].name);
    put(calls[i].status == 0 || calls[i].status == PENDING ? "</code></td><td>" : "</code></td><td class=\"bad\">");
    put(status_name(calls[i].status));
    put("</td><td>");
    put_escaped(calls[i].detail, strlen(calls[i].detail));
    put("</td></tr>\n");
  }
  if (dropped_calls) {
    snprintf(line, sizeof line, "<tr><td colspan=4>and %d more</td></tr>\n", dropped_calls);
    put(line);
  }
  snprintf(line, sizeof line, "</table>\n<p>%d headers.</p>\n</body></html>\n", header_count);
  put(line);

  size_t written = 0;
  for (size_t at = 0; at < page_len; at += written) {
    st = body_write(body, page + at, page_len - at, 0, &written);
    if (st != 0) break;
  }
  st = resp_send_downstream(resp, body, 0);
  if (st != 0) fprintf(stderr, "send_downstream failed with status %d\n", st);
  return 0;
}
