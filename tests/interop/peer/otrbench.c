/* libotr 4.1.1 figures for `cargo xtask bench otr`, the anchor for candado-otr's
 * (crates/otr/tests/common/bench.rs times the same operations):
 *
 *   otr_keygen      otrl_privkey_generate (libgcrypt DSA 1024/160, fresh parameters)
 *   otr_ake         v3 AKE between two userstates in this process, query to both secure
 *   otr_pingpong    per message: 20 messages sent and read, alternating (DH rotation every turn)
 *   otr_burst       per message: 20 messages sent and read, always the same direction
 *   otr_smp         SMP with a question, both sides, start to SUCCESS on both
 *   otr_modexp320   gcry_mpi_powm, 1536-bit modulus, random base, 320-bit exponent
 *   otr_modexp1536  the same with a full-size exponent
 *
 * Messages travel in memory: inject_message appends to the sender's outbox and pump()
 * feeds outboxes to the other side's otrl_message_receiving until both are quiet.
 * Prints `BENCH name median_ms=... min_ms=... cpu_median_ms=... runs=...` lines (wall-time
 * median and minimum, median of this thread's CPU time) for 11 samples (55 for modexp);
 * exits non-zero if a protocol run fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/message.h>
#include <libotr/context.h>

#define RUNS 11
#define MESSAGES 20 /* messages per sample of the message figures (their mean) */
#define PROTO "xmpp"
#define MAXQ 64

typedef struct Party {
  OtrlUserState us;
  const char *name;
  struct Party *peer;
  char *outbox[MAXQ];
  int nout;
  int secure;
  int smp_asked;
  int smp_success;
  int smp_bad;
  char *last_text;
} Party;

static OtrlMessageAppOps ops;
static const OtrlPolicy POLICY = OTRL_POLICY_ALLOW_V2 | OTRL_POLICY_ALLOW_V3;

static void fail(const char *what) {
  fprintf(stderr, "otrbench: %s\n", what);
  exit(1);
}

static double clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Wall and thread-CPU samples of one figure; tick() starts a sample, tock(per) ends it,
 * divided by the `per` operations it covered. */
static double wall[RUNS * 5], cpu[RUNS * 5], t0_wall, t0_cpu;
static int nsamples;
static void tick(void) {
  t0_cpu = clock_ms(CLOCK_THREAD_CPUTIME_ID);
  t0_wall = clock_ms(CLOCK_MONOTONIC);
}
static void tock(int per) {
  wall[nsamples] = (clock_ms(CLOCK_MONOTONIC) - t0_wall) / per;
  cpu[nsamples] = (clock_ms(CLOCK_THREAD_CPUTIME_ID) - t0_cpu) / per;
  nsamples++;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* `BENCH name median_ms=... min_ms=... cpu_median_ms=... runs=...`; resets the samples. */
static void report(const char *name) {
  int n = nsamples;
  qsort(wall, n, sizeof *wall, cmp_double);
  qsort(cpu, n, sizeof *cpu, cmp_double);
  printf("BENCH %s median_ms=%.4f min_ms=%.4f cpu_median_ms=%.4f runs=%d\n", name, wall[n / 2],
         wall[0], cpu[n / 2], n);
  fflush(stdout);
  nsamples = 0;
}

/* ---- callbacks; opdata is the Party whose userstate is acting ---- */
static OtrlPolicy cb_policy(void *o, ConnContext *c) { (void)o; (void)c; return POLICY; }
static void cb_create_privkey(void *o, const char *a, const char *p) {
  (void)o; (void)a; (void)p;
  fail("no private key loaded");
}
static int cb_is_logged_in(void *o, const char *a, const char *p, const char *r) {
  (void)o; (void)a; (void)p; (void)r;
  return 1;
}
static void cb_inject(void *o, const char *a, const char *p, const char *r, const char *m) {
  Party *me = o;
  (void)a; (void)p; (void)r;
  if (!*m) return;
  if (me->nout == MAXQ) fail("outbox full");
  me->outbox[me->nout++] = strdup(m);
}
static void cb_noop(void *o) { (void)o; }
static void cb_new_fp(void *o, OtrlUserState u, const char *a, const char *p, const char *n,
                      unsigned char fp[20]) {
  (void)o; (void)u; (void)a; (void)p; (void)n; (void)fp;
}
static void cb_gone_secure(void *o, ConnContext *c) { (void)c; ((Party *)o)->secure = 1; }
static void cb_gone_insecure(void *o, ConnContext *c) { (void)c; ((Party *)o)->secure = 0; }
static void cb_still_secure(void *o, ConnContext *c, int r) { (void)r; (void)c; ((Party *)o)->secure = 1; }
static int cb_max_size(void *o, ConnContext *c) { (void)o; (void)c; return 0; }
static const char *cb_account_name(void *o, const char *a, const char *p) {
  (void)o; (void)p;
  return a;
}
static void cb_account_name_free(void *o, const char *a) { (void)o; (void)a; }
static const char *cb_errmsg(void *o, ConnContext *c, OtrlErrorCode e) {
  (void)o; (void)c; (void)e;
  return "libotr error";
}
static void cb_errmsg_free(void *o, const char *m) { (void)o; (void)m; }
static void cb_smp_event(void *o, OtrlSMPEvent e, ConnContext *c, unsigned short pct, char *q) {
  Party *me = o;
  (void)c; (void)pct; (void)q;
  if (e == OTRL_SMPEVENT_ASK_FOR_ANSWER) me->smp_asked = 1;
  else if (e == OTRL_SMPEVENT_SUCCESS) me->smp_success = 1;
  else if (e != OTRL_SMPEVENT_IN_PROGRESS) me->smp_bad = 1;
}
static void cb_msg_event(void *o, OtrlMessageEvent e, ConnContext *c, const char *m, gcry_error_t err) {
  (void)o; (void)c; (void)m; (void)err;
  if (e != OTRL_MSGEVENT_NONE && e != OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD &&
      e != OTRL_MSGEVENT_LOG_HEARTBEAT_SENT) {
    fprintf(stderr, "otrbench: message event %d\n", (int)e);
    exit(1);
  }
}
static void cb_create_instag(void *o, const char *a, const char *p) {
  Party *me = o;
  FILE *f = tmpfile();
  if (!f || otrl_instag_generate_FILEp(me->us, f, a, p)) fail("instance tag");
  fclose(f);
}

static ConnContext *context_of(Party *me) {
  return otrl_context_find(me->us, me->peer->name, me->name, PROTO, OTRL_INSTAG_BEST, 0, NULL,
                           NULL, NULL);
}

/* Feed `from`'s outbox to `to`. Returns how many messages moved. */
static int deliver(Party *from, Party *to) {
  int moved = 0;
  while (from->nout > 0) {
    char *msg = from->outbox[0];
    from->nout--;
    memmove(from->outbox, from->outbox + 1, from->nout * sizeof *from->outbox);
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(to->us, &ops, to, to->name, PROTO, from->name, msg,
                                        &newmsg, &tlvs, NULL, NULL, NULL);
    free(to->last_text);
    to->last_text = (!ignore && newmsg) ? strdup(newmsg) : NULL;
    otrl_tlv_free(tlvs);
    otrl_message_free(newmsg);
    free(msg);
    moved++;
  }
  return moved;
}

static void pump(Party *a, Party *b) {
  while (deliver(a, b) + deliver(b, a) > 0) {
  }
}

static void send_text(Party *from, const char *text) {
  char *newmsg = NULL;
  /* FRAGMENT_SEND_ALL: libotr injects the encrypted message (and leaves a copy in newmsg). */
  gcry_error_t err = otrl_message_sending(from->us, &ops, from, from->name, PROTO,
                                          from->peer->name, OTRL_INSTAG_BEST, text, NULL, &newmsg,
                                          OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
  if (err) fail("otrl_message_sending");
  otrl_message_free(newmsg);
}

static void message(Party *from, Party *to, const char *text) {
  free(to->last_text);
  to->last_text = NULL;
  send_text(from, text);
  pump(from, to);
  if (!to->last_text || strcmp(to->last_text, text)) fail("message not received");
}

static void ake(Party *a, Party *b) {
  char *q = otrl_proto_default_query_msg(a->name, POLICY);
  cb_inject(a, a->name, PROTO, b->name, q);
  free(q);
  pump(a, b);
  if (!a->secure || !b->secure) fail("AKE did not complete");
  ConnContext *ca = context_of(a);
  if (!ca || ca->msgstate != OTRL_MSGSTATE_ENCRYPTED || ca->protocol_version != 3)
    fail("not encrypted with v3");
}

static void forget(Party *p) {
  otrl_context_forget_all(p->us);
  p->secure = 0;
}

static void load_key(Party *p, const char *path) {
  if (otrl_privkey_generate(p->us, path, p->name, PROTO)) fail("otrl_privkey_generate");
}

int main(void) {
  OTRL_INIT;
  memset(&ops, 0, sizeof ops);
  ops.policy = cb_policy;
  ops.create_privkey = cb_create_privkey;
  ops.is_logged_in = cb_is_logged_in;
  ops.inject_message = cb_inject;
  ops.update_context_list = cb_noop;
  ops.new_fingerprint = cb_new_fp;
  ops.write_fingerprints = cb_noop;
  ops.gone_secure = cb_gone_secure;
  ops.gone_insecure = cb_gone_insecure;
  ops.still_secure = cb_still_secure;
  ops.max_message_size = cb_max_size;
  ops.account_name = cb_account_name;
  ops.account_name_free = cb_account_name_free;
  ops.otr_error_message = cb_errmsg;
  ops.otr_error_message_free = cb_errmsg_free;
  ops.handle_smp_event = cb_smp_event;
  ops.handle_msg_event = cb_msg_event;
  ops.create_instag = cb_create_instag;

  char path[] = "/tmp/otrbench-keys-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) fail("mkstemp");
  close(fd);

  /* DSA keygen: a scratch userstate, one fresh key (parameters included) per sample. */
  OtrlUserState ks = otrl_userstate_create();
  for (int i = 0; i < RUNS; i++) {
    tick();
    if (otrl_privkey_generate(ks, path, "keygen@bench", PROTO)) fail("otrl_privkey_generate");
    tock(1);
  }
  otrl_userstate_free(ks);
  report("otr_keygen");

  Party alice = {0}, bob = {0};
  alice.us = otrl_userstate_create();
  alice.name = "alice@bench";
  alice.peer = &bob;
  bob.us = otrl_userstate_create();
  bob.name = "bob@bench";
  bob.peer = &alice;
  load_key(&alice, path);
  load_key(&bob, path);

  for (int i = 0; i < RUNS; i++) {
    forget(&alice);
    forget(&bob);
    tick();
    ake(&alice, &bob);
    tock(1);
  }
  report("otr_ake");

  const char *text = "The quick brown fox jumps over the lazy dog. 0123456789";
  /* Warm up: one round trip so that both sides have rotated once. */
  message(&alice, &bob, text);
  message(&bob, &alice, text);
  for (int i = 0; i < RUNS; i++) {
    tick();
    for (int j = 0; j < MESSAGES / 2; j++) {
      message(&alice, &bob, text);
      message(&bob, &alice, text);
    }
    tock(MESSAGES);
  }
  report("otr_pingpong");

  for (int i = 0; i < RUNS; i++) {
    tick();
    for (int j = 0; j < MESSAGES; j++) message(&alice, &bob, text);
    tock(MESSAGES);
  }
  report("otr_burst");

  const unsigned char secret[] = "in Lisbon";
  for (int i = 0; i < RUNS; i++) {
    alice.smp_success = bob.smp_success = bob.smp_asked = 0;
    tick();
    ConnContext *ca = context_of(&alice);
    if (!ca) fail("no context");
    otrl_message_initiate_smp_q(alice.us, &ops, &alice, ca, "Where did we meet?", secret,
                                sizeof secret - 1);
    pump(&alice, &bob);
    if (!bob.smp_asked) fail("SMP question not asked");
    ConnContext *cb = context_of(&bob);
    if (!cb) fail("no context");
    otrl_message_respond_smp(bob.us, &ops, &bob, cb, secret, sizeof secret - 1);
    pump(&alice, &bob);
    tock(1);
    if (!alice.smp_success || !bob.smp_success || alice.smp_bad || bob.smp_bad)
      fail("SMP did not succeed");
  }
  report("otr_smp");

  /* The raw modexp, as libotr's DH and SMP call it (gcry_mpi_powm). */
  gcry_mpi_t p = NULL, base = gcry_mpi_new(1536), exp = gcry_mpi_new(1536), r = gcry_mpi_new(1536);
  static const char *P_HEX =
      "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
      "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
      "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
      "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
      "F1746C08CA237327FFFFFFFFFFFFFFFF";
  if (gcry_mpi_scan(&p, GCRYMPI_FMT_HEX, P_HEX, 0, NULL)) fail("modulus");
  const unsigned int bits[2] = {320, 1536};
  const char *names[2] = {"otr_modexp320", "otr_modexp1536"};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < RUNS * 5; i++) {
      gcry_mpi_randomize(base, 1535, GCRY_WEAK_RANDOM);
      gcry_mpi_randomize(exp, bits[k], GCRY_WEAK_RANDOM);
      tick();
      gcry_mpi_powm(r, base, exp, p);
      tock(1);
    }
    report(names[k]);
  }
  gcry_mpi_release(p);
  gcry_mpi_release(base);
  gcry_mpi_release(exp);
  gcry_mpi_release(r);

  forget(&alice);
  forget(&bob);
  otrl_userstate_free(alice.us);
  otrl_userstate_free(bob.us);
  free(alice.last_text);
  free(bob.last_text);
  unlink(path);
  return 0;
}
