/* The server side of doc/shm-protocol.md in C, for tests and bench/: one
 * connection accepted on a listening AF_UNIX socket, its rings read and
 * written with the same ordering and wake-up rules as the client
 * (lib/transport/shm_posix.c).  Waits give up after 10 s so that a broken
 * client cannot hang a test. */
#ifndef TDSC_SHM_PEER_H
#define TDSC_SHM_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct shm_peer_line {
  _Atomic uint64_t pos;
  _Atomic uint32_t waiting;
} shm_peer_line;

typedef struct shm_peer_ring {
  shm_peer_line *prod, *cons;
  uint8_t *data;
  uint64_t size;
} shm_peer_ring;

typedef struct shm_peer {
  int sock, bell_client, bell_server;
  uint8_t *seg;
  size_t seg_len;
  shm_peer_ring rx, tx; /* c2s, s2c */
} shm_peer;

/* Accepts one client on ls and answers its hello with rings of ring_size
 * bytes; version other than 1 answers that version and no descriptors
 * (returns false); sealed false hands over an unsealed segment.  On false,
 * call shm_peer_close all the same. */
bool shm_peer_accept(shm_peer *s, int ls, uint32_t ring_size, uint16_t version,
                     bool sealed);
void shm_peer_close(shm_peer *s);
/* Up to len bytes; 0 when the client is gone and the ring empty. */
size_t shm_peer_read(shm_peer *s, void *buf, size_t len);
/* All len bytes; false when the client is gone. */
bool shm_peer_write(shm_peer *s, const void *buf, size_t len);

#endif
