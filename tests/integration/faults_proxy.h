/* A hostile server for the fault tests: a recording proxy in front of the
 * real test server captures a plaintext session (Encrypt=off, SQL login),
 * message by message; a replaying server then plays the captured replies
 * back to the client, cut, reset, stalled, re-packetised or replaced at
 * chosen places.  Plaintext only: the proxy reads the client's packet
 * headers to know where each request ends. */
#ifndef TDSC_TEST_FAULTS_PROXY_H
#define TDSC_TEST_FAULTS_PROXY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FP_MAX_MSGS 8

/* The server's replies of one session, one per client message (0 is the
 * PRELOGIN reply, 1 the login reply, 2 the first request's). */
typedef struct fp_session {
  uint8_t *reply[FP_MAX_MSGS];
  size_t len[FP_MAX_MSGS];
  size_t nmsgs;
} fp_session;

/* Records the session of whatever the client does on the proxy's port
 * (*port on return) with the server at server_port; fp_record_end waits
 * for the client to close and returns the capture. */
typedef struct fp_recorder fp_recorder;
fp_recorder *fp_record_start(int server_port, int *port);
void fp_record_end(fp_recorder *r, fp_session *out);
void fp_session_free(fp_session *s);

typedef enum fp_action {
  FP_FIN,   /* close (the client reads end of stream) */
  FP_RST,   /* reset (SO_LINGER 0) */
  FP_STALL, /* send nothing more, keep the connection open */
  FP_RESUME, /* send the rest (after pause_ms) and go on as if whole */
} fp_action;

/* What the replaying server does. */
typedef struct fp_plan {
  const fp_session *s;
  size_t msg;       /* the reply that goes wrong */
  size_t cut;       /* bytes of it sent before the action (SIZE_MAX: all) */
  fp_action action; /* after the cut */
  unsigned pause_ms; /* at the cut, before the action: the server sends
                        nothing for this long (the client waits on an
                        empty socket, a packet maybe half read) */
  bool one_byte;    /* re-packetise every reply: one payload byte per
                       packet (cut counts bytes of the re-packetised
                       reply) */
  const uint8_t *replace; /* when not NULL: the reply msg instead of the
                             captured one (already framed in packets) */
  size_t replace_len;
} fp_plan;

/* Serves one connection per fp_serve call on a listening socket. */
typedef struct fp_server {
  int lfd;
  int port;
  pthread_t thread;
  fp_plan plan;
  bool running;
} fp_server;
bool fp_server_open(fp_server *s);
void fp_server_close(fp_server *s);
/* Starts serving the next connection with plan (in a thread). */
void fp_serve(fp_server *s, const fp_plan *plan);
/* Waits for that connection to end (the client closed it). */
void fp_serve_wait(fp_server *s);

/* A reply re-packetised with n payload bytes per packet (malloc'd). */
uint8_t *fp_repacketise(const uint8_t *reply, size_t len, size_t n,
                        size_t *out_len);
/* The payload of a reply (its packets' bodies joined; malloc'd). */
uint8_t *fp_payload(const uint8_t *reply, size_t len, size_t *out_len);
/* Frames a payload as one reply message (packets of up to 4088 bytes). */
uint8_t *fp_frame(const uint8_t *payload, size_t len, size_t *out_len);

#endif
