/*
 * The SIP codec yardstick for bench/sip-vs-libosip2.ts: libosip2 (the parser
 * siproxd is built on) doing what masq's SIP ALG does to an outbound INVITE:
 * parse the message, rewrite the top Via's sent-by and the Contact URI from
 * the private address to the public one, parse the SDP body, rewrite o= and
 * c= to the public address and every m= port to port + 10000, serialise the
 * SDP, put it back as the body (Content-Length follows) and serialise the
 * message. Everything allocated is freed each time, as a proxy would.
 *
 * Build: gcc -O2 -o sip-libosip2 sip-libosip2.c -losipparser2
 * usage: sip-libosip2 MESSAGE_FILE PRIVATE PUBLIC SECONDS [--print]
 * prints: messages=N cpu_seconds=S rate=R   (messages per CPU-second of this process)
 *         and with --print, the rewritten message first, between lines "-----".
 */
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Replaces *field with a copy of value when it equals from (the string oSIP owns is freed). */
static void replace_if(char **field, const char *from, const char *value) {
  if (*field != NULL && strcmp(*field, from) == 0) {
    osip_free(*field);
    *field = osip_strdup(value);
  }
}

static int rewrite_sdp(osip_message_t *sip, const char *priv, const char *pub) {
  osip_body_t *body = NULL;
  if (osip_message_get_body(sip, 0, &body) < 0 || body == NULL || body->body == NULL) return -1;
  sdp_message_t *sdp = NULL;
  if (sdp_message_init(&sdp) != 0) return -1;
  if (sdp_message_parse(sdp, body->body) != 0) {
    sdp_message_free(sdp);
    return -1;
  }
  replace_if(&sdp->o_addr, priv, pub);
  if (sdp->c_connection != NULL) replace_if(&sdp->c_connection->c_addr, priv, pub);
  for (int pos = 0; !osip_list_eol(&sdp->m_medias, pos); pos++) {
    sdp_media_t *m = (sdp_media_t *)osip_list_get(&sdp->m_medias, pos);
    for (int c = 0; !osip_list_eol(&m->c_connections, c); c++) {
      sdp_connection_t *conn = (sdp_connection_t *)osip_list_get(&m->c_connections, c);
      replace_if(&conn->c_addr, priv, pub);
    }
    char port[16];
    snprintf(port, sizeof port, "%d", atoi(m->m_port) + 10000);
    osip_free(m->m_port);
    m->m_port = osip_strdup(port);
  }
  char *text = NULL;
  int rc = sdp_message_to_str(sdp, &text);
  sdp_message_free(sdp);
  if (rc != 0) return -1;
  /* The new body replaces the old; serialising the message writes its Content-Length. */
  osip_list_special_free(&sip->bodies, (void (*)(void *))osip_body_free);
  rc = osip_message_set_body(sip, text, strlen(text));
  osip_free(text);
  return rc;
}

/* One message: parse, rewrite, serialise. Returns the new text (caller frees) or NULL. */
static char *process(const char *msg, size_t len, const char *priv, const char *pub, size_t *outlen) {
  osip_message_t *sip = NULL;
  if (osip_message_init(&sip) != 0) return NULL;
  char *out = NULL;
  if (osip_message_parse(sip, msg, len) != 0) goto done;
  osip_via_t *via = NULL;
  if (osip_message_get_via(sip, 0, &via) >= 0 && via != NULL) replace_if(&via->host, priv, pub);
  osip_contact_t *contact = NULL;
  if (osip_message_get_contact(sip, 0, &contact) >= 0 && contact != NULL) {
    osip_uri_t *url = osip_contact_get_url(contact);
    if (url != NULL) replace_if(&url->host, priv, pub);
  }
  if (rewrite_sdp(sip, priv, pub) != 0) goto done;
  if (osip_message_to_str(sip, &out, outlen) != 0) out = NULL;
done:
  osip_message_free(sip);
  return out;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s MESSAGE_FILE PRIVATE PUBLIC SECONDS [--print]\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 2;
  }
  static char msg[65536];
  size_t len = fread(msg, 1, sizeof msg - 1, f);
  fclose(f);
  msg[len] = '\0';
  const char *priv = argv[2], *pub = argv[3];
  double seconds = atof(argv[4]);
  parser_init();
  size_t outlen = 0;
  char *first = process(msg, len, priv, pub, &outlen);
  if (first == NULL) {
    fprintf(stderr, "libosip2 could not process the message\n");
    return 1;
  }
  if (argc > 5 && strcmp(argv[5], "--print") == 0) {
    printf("-----\n");
    fwrite(first, 1, outlen, stdout);
    printf("-----\n");
  }
  osip_free(first);
  /* Warm up, then count whole thousands of messages until the CPU time is spent. */
  for (int i = 0; i < 2000; i++) osip_free(process(msg, len, priv, pub, &outlen));
  unsigned long n = 0;
  double t0 = cpu_seconds(), t1 = t0;
  while (t1 - t0 < seconds) {
    for (int i = 0; i < 1000; i++) {
      char *out = process(msg, len, priv, pub, &outlen);
      if (out == NULL) return 1;
      osip_free(out);
    }
    n += 1000;
    t1 = cpu_seconds();
  }
  printf("messages=%lu cpu_seconds=%.4f rate=%.0f\n", n, t1 - t0, n / (t1 - t0));
  return 0;
}
