/* SPDX-License-Identifier: MIT */
/* libFuzzer target: diag_parse_reply() on arbitrary bytes as one received
 * buffer, checked against a small reference reading of the same bytes.
 *
 * Input: byte 0 picks the request the buffer is parsed for, the rest is the
 * buffer (copied to its own allocation of exactly that size, aligned as the
 * receive buffer is, so ASan sees any read past its end):
 *   bits 0-1  sequence / port id: 0 those of the buffer's first header (so
 *             the parser goes past the first message), 1 fixed 42 / 7777,
 *             2 both 0 (libmnl's "no check"), 3 the first header's sequence
 *             with port id 7777
 *   bit 2     expected message type: TCPDIAG_GETSOCK or SOCK_DIAG_BY_FAMILY
 *   bit 3     no accept-queue callback (on_queue NULL)
 *   bits 4-7  the socket callback fails (ENOMEM) at that socket (0: never)
 * The socket callback counts like the collector: states 1..11 into a port
 * table with a few slots, anything else ignored; the queue callback is
 * recorded.
 *
 * Reference (what diag_reply.h promises, with libmnl's own rules): the
 * messages must tile the buffer exactly (the last one's padding may be
 * missing), else EBADMSG before any callback;
 * then in order: a message from another port id -> ESRCH, or with another
 * sequence -> EPROTO (0 on either side matches anything, as in libmnl);
 * NLM_F_DUMP_INTR -> EINTR;
 * type >= NLMSG_MIN_TYPE: must be the expected type (EPROTO) and carry a
 * whole struct inet_diag_msg (EBADMSG), then it is one socket, and if the
 * socket callback accepted it and its state is LISTEN (10), one queue
 * callback with its port and idiag_rqueue/idiag_wqueue; NLMSG_ERROR:
 * short -> EBADMSG, 0 -> done (an ACK), INT_MIN -> EPROTO, else that
 * errno; NLMSG_DONE: a negative int payload -> that errno (INT_MIN:
 * EPROTO), else done; NLMSG_OVERRUN ->
 * EOVERFLOW; other control types are skipped. No DONE -> "more".
 * The sockets and queues reported, the result and the error must match;
 * any difference aborts. */
#include "diag_reply.h"
#include "port_table.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define MAX_SEEN 4096

struct sock3 {
  uint16_t sport, dport;
  uint8_t state;
};

struct queue3 {
  uint16_t port;
  uint32_t rq, wq;
};

struct run {
  struct sock3 seen[MAX_SEEN];
  size_t nseen;
  struct queue3 queues[MAX_SEEN];
  size_t nqueues;
  unsigned fail_at; /* 1-based socket that fails, 0 never */
  struct port_table pt;
};

static struct run run;
static int pt_ready;

static int on_socket(void *data, uint16_t sport, uint16_t dport,
                     uint8_t state) {
  struct run *r = data;

  if (r->nseen < MAX_SEEN)
    r->seen[r->nseen] = (struct sock3){sport, dport, state};
  r->nseen++;
  if (r->fail_at != 0 && r->nseen == r->fail_at)
    return ENOMEM;
  if (state >= TCS_MIN && state <= TCS_MAX)
    pt_count(&r->pt, sport, dport, state);
  return 0;
}

static void on_queue(void *data, uint16_t sport, uint32_t rq, uint32_t wq) {
  struct run *r = data;

  if (r->nqueues < MAX_SEEN)
    r->queues[r->nqueues] = (struct queue3){sport, rq, wq};
  r->nqueues++;
}

static void die(const char *what, const uint8_t *buf, size_t len) {
  fprintf(stderr, "fuzz_reply: %s (buffer of %zu bytes)\n", what, len);
  (void)buf;
  abort();
}

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

/* The reference reading. Returns the result and fills *err and the
 * expected sockets. */
static enum diag_parse_result
reference(const uint8_t *buf, size_t len, uint32_t seq, uint32_t portid,
          uint16_t type, unsigned fail_at, int queues, struct sock3 *exp,
          size_t *nexp, struct queue3 *qexp, size_t *nqexp, int *err) {
  size_t off = 0;

  *nexp = 0;
  *nqexp = 0;
  *err = 0;
  if (len == 0) {
    *err = ENODATA;
    return DIAG_PARSE_ERROR;
  }
  /* Framing: whole headers, lengths within the buffer, aligned steps that
   * end exactly at the end; the last message's padding may be absent. */
  while (len - off >= sizeof(struct nlmsghdr)) {
    uint32_t ml = rd32(buf + off);
    if (ml < sizeof(struct nlmsghdr) || ml > len - off)
      break;
    off += NLMSG_ALIGN((size_t)ml);
    if (off > len)
      off = len;
  }
  if (off != len) {
    *err = EBADMSG;
    return DIAG_PARSE_ERROR;
  }
  for (off = 0; off < len;) {
    struct nlmsghdr h;
    memcpy(&h, buf + off, sizeof(h));
    const uint8_t *pl = buf + off + NLMSG_HDRLEN;
    size_t plen = h.nlmsg_len - NLMSG_HDRLEN;

    if (h.nlmsg_pid != 0 && portid != 0 && h.nlmsg_pid != portid) {
      *err = ESRCH;
      return DIAG_PARSE_ERROR;
    }
    if (h.nlmsg_seq != 0 && seq != 0 && h.nlmsg_seq != seq) {
      *err = EPROTO;
      return DIAG_PARSE_ERROR;
    }
    if (h.nlmsg_flags & NLM_F_DUMP_INTR) {
      *err = EINTR;
      return DIAG_PARSE_ERROR;
    }
    if (h.nlmsg_type >= NLMSG_MIN_TYPE) {
      struct inet_diag_msg m;
      if (h.nlmsg_type != type) {
        *err = EPROTO;
        return DIAG_PARSE_ERROR;
      }
      if (plen < sizeof(m)) {
        *err = EBADMSG;
        return DIAG_PARSE_ERROR;
      }
      memcpy(&m, pl, sizeof(m));
#ifdef FUZZ_SELFTEST
      /* A wrong expectation, to see the check fail: ports are read in
       * host order. */
      m.id.idiag_sport = ntohs(m.id.idiag_sport);
#endif
      if (*nexp < MAX_SEEN)
        exp[*nexp] = (struct sock3){ntohs(m.id.idiag_sport),
                                    ntohs(m.id.idiag_dport), m.idiag_state};
      (*nexp)++;
      if (fail_at != 0 && *nexp == fail_at) {
        *err = ENOMEM;
        return DIAG_PARSE_ERROR;
      }
      if (queues && m.idiag_state == 10) {
        if (*nqexp < MAX_SEEN)
          qexp[*nqexp] = (struct queue3){ntohs(m.id.idiag_sport),
                                         m.idiag_rqueue, m.idiag_wqueue};
        (*nqexp)++;
      }
    } else if (h.nlmsg_type == NLMSG_ERROR) {
      int e;
      if (plen < sizeof(struct nlmsgerr)) {
        *err = EBADMSG;
        return DIAG_PARSE_ERROR;
      }
      memcpy(&e, pl, sizeof(e));
      if (e == 0)
        return DIAG_PARSE_DONE;
      /* -INT_MIN does not fit an int: no errno is that. */
      *err = e == INT32_MIN ? EPROTO : e < 0 ? -e : e;
      return DIAG_PARSE_ERROR;
    } else if (h.nlmsg_type == NLMSG_DONE) {
      int st = 0;
      if (plen >= sizeof(st))
        memcpy(&st, pl, sizeof(st));
      if (st < 0) {
        *err = st == INT32_MIN ? EPROTO : -st;
        return DIAG_PARSE_ERROR;
      }
      return DIAG_PARSE_DONE;
    } else if (h.nlmsg_type == NLMSG_OVERRUN) {
      *err = EOVERFLOW;
      return DIAG_PARSE_ERROR;
    }
    off += NLMSG_ALIGN((size_t)h.nlmsg_len);
  }
  return DIAG_PARSE_MORE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct sock3 exp[MAX_SEEN];
  static struct queue3 qexp[MAX_SEEN];
  uint8_t sel;
  size_t len, nexp, nqexp;
  uint8_t *buf;
  int experr;

  if (size < 1)
    return 0;
  if (!pt_ready) {
    /* A few slots, as a configured collector has. */
    static const uint16_t ports[] = {22, 80, 443, 8080, 65535};
    pt_init(&run.pt);
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
      pt_configure(&run.pt, ports[i], i % 2 ? PT_REMOTE : PT_LOCAL);
    pt_ready = 1;
  }
  sel = data[0];
  len = size - 1;
  /* Its own allocation of exactly len bytes (malloc aligns it as the
   * receive buffer is); at least 1 byte so malloc(0) is not a question. */
  buf = malloc(len ? len : 1);
  if (buf == NULL)
    return 0;
  memcpy(buf, data + 1, len);

  uint32_t first_seq = 42, first_pid = 7777;
  if (len >= sizeof(struct nlmsghdr)) {
    struct nlmsghdr h;
    memcpy(&h, buf, sizeof(h));
    first_seq = h.nlmsg_seq;
    first_pid = h.nlmsg_pid;
  }
  struct diag_reply r = {.on_socket = on_socket, .data = &run};
  switch (sel & 3) {
  case 0:
    r.seq = first_seq;
    r.portid = first_pid;
    break;
  case 1:
    r.seq = 42;
    r.portid = 7777;
    break;
  case 2:
    r.seq = 0;
    r.portid = 0;
    break;
  default:
    r.seq = first_seq;
    r.portid = 7777;
    break;
  }
  r.type = (sel & 4) ? SOCK_DIAG_BY_FAMILY : TCPDIAG_GETSOCK;
  r.on_queue = (sel & 8) ? NULL : on_queue;
  run.fail_at = sel >> 4;
  run.nseen = 0;
  run.nqueues = 0;
  pt_begin_read(&run.pt);

  enum diag_parse_result want =
      reference(buf, len, r.seq, r.portid, r.type, run.fail_at,
                r.on_queue != NULL, exp, &nexp, qexp, &nqexp, &experr);
  enum diag_parse_result got = diag_parse_reply(&r, buf, len);

  if (got != DIAG_PARSE_ERROR && got != DIAG_PARSE_DONE &&
      got != DIAG_PARSE_MORE)
    die("result out of range", buf, len);
  if (got != want) {
    fprintf(stderr, "fuzz_reply: result %d, reference %d (error %d / %d)\n",
            (int)got, (int)want, r.error, experr);
    die("result differs from the reference", buf, len);
  }
  if (got == DIAG_PARSE_ERROR) {
    if (r.error <= 0)
      die("error result without a positive errno", buf, len);
    if (r.error != experr) {
      fprintf(stderr, "fuzz_reply: error %d, reference %d\n", r.error, experr);
      die("errno differs from the reference", buf, len);
    }
  }
  if (run.nseen != nexp || r.sockets != nexp) {
    fprintf(stderr, "fuzz_reply: %zu callbacks, %llu counted, reference %zu\n",
            run.nseen, (unsigned long long)r.sockets, nexp);
    die("socket count differs from the reference", buf, len);
  }
  for (size_t i = 0; i < nexp && i < MAX_SEEN; i++)
    if (run.seen[i].sport != exp[i].sport ||
        run.seen[i].dport != exp[i].dport || run.seen[i].state != exp[i].state)
      die("socket fields differ from the reference", buf, len);
  if (run.nqueues != nqexp)
    die("queue callbacks differ in number from the reference", buf, len);
  for (size_t i = 0; i < nqexp && i < MAX_SEEN; i++)
    if (run.queues[i].port != qexp[i].port || run.queues[i].rq != qexp[i].rq ||
        run.queues[i].wq != qexp[i].wq)
      die("queue callback fields differ from the reference", buf, len);
  free(buf);
  return 0;
}
