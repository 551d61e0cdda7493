/* otrpeer: a libotr 4.1 peer driven over stdin/stdout, for candado-otr's interop tests.
 *
 * It plays account "bob" talking to "alice" over protocol "xmpp". Every command is one
 * line on stdin; binary or free-text arguments are hex-encoded. The peer answers with
 * zero or more event lines and then a line "done". Event lines:
 *   instag XXXXXXXX            our instance tag (at start-up)
 *   ourfp HEX                  our key's fingerprint (after genkey/readkey/writekey)
 *   out HEX                    a message libotr injects to the network (one per fragment)
 *   shown HEX                  what otrl_message_receiving gives the user
 *   tlv N                      a TLV type found in a received Data message
 *   secure vN THEIRTAG / ssid HEX / bold N / theirfp HEX      gone_secure
 *   still_secure / insecure
 *   smp NAME [HEX question] / trust WORD                      SMP events
 *   msgevent NAME              libotr message events
 *   symkey_use N / symkey_data HEX / symkey HEX               received TLV 8
 *   mysymkey HEX               the key otrl_message_symkey returned
 *   fp HEX                     the fingerprint asked for with "fp"
 *   state MSGSTATE SMPSTATE    of the best instance
 *   error TEXT                 a command failed
 * Commands: genkey | readkey HEXPATH | writekey HEXPATH | fp HEXACCOUNT HEXPROTOCOL |
 *   policy N | mms N | query |
 *   recv HEX | send HEX | smp HEXSECRET | smpq HEXQ HEXSECRET | respond HEXSECRET |
 *   abort | disconnect | symkey USE HEXDATA | state | quit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/context.h>
#include <libotr/message.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>

#define ACCOUNT "bob"
#define PROTOCOL "xmpp"
#define PEER "alice"

static OtrlUserState us;
static OtrlPolicy pol = OTRL_POLICY_DEFAULT;
static int mms = 0;
static OtrlMessageAppOps ops;

static void hexout(const char *tag, const unsigned char *b, size_t n) {
  printf("%s ", tag);
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\n");
}

/* Decodes hex into a fresh NUL-terminated buffer; *n gets the length. NULL on bad hex. */
static unsigned char *unhex(const char *h, size_t *n) {
  if (!h) h = "";
  size_t len = strlen(h);
  if (len % 2) return NULL;
  unsigned char *out = malloc(len / 2 + 1);
  if (!out) return NULL;
  for (size_t i = 0; i < len / 2; i++) {
    unsigned int v;
    if (sscanf(h + 2 * i, "%2x", &v) != 1) { free(out); return NULL; }
    out[i] = (unsigned char)v;
  }
  out[len / 2] = 0;
  if (n) *n = len / 2;
  return out;
}

static const char *smp_name(OtrlSMPEvent e) {
  switch (e) {
    case OTRL_SMPEVENT_NONE: return "none";
    case OTRL_SMPEVENT_ERROR: return "error";
    case OTRL_SMPEVENT_ABORT: return "abort";
    case OTRL_SMPEVENT_CHEATED: return "cheated";
    case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "ask_for_answer";
    case OTRL_SMPEVENT_ASK_FOR_SECRET: return "ask_for_secret";
    case OTRL_SMPEVENT_IN_PROGRESS: return "in_progress";
    case OTRL_SMPEVENT_SUCCESS: return "success";
    case OTRL_SMPEVENT_FAILURE: return "failure";
  }
  return "unknown";
}

static const char *msg_name(OtrlMessageEvent e) {
  switch (e) {
    case OTRL_MSGEVENT_NONE: return "none";
    case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "encryption_required";
    case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "encryption_error";
    case OTRL_MSGEVENT_CONNECTION_ENDED: return "connection_ended";
    case OTRL_MSGEVENT_SETUP_ERROR: return "setup_error";
    case OTRL_MSGEVENT_MSG_REFLECTED: return "msg_reflected";
    case OTRL_MSGEVENT_MSG_RESENT: return "msg_resent";
    case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "rcvdmsg_not_in_private";
    case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "rcvdmsg_unreadable";
    case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "rcvdmsg_malformed";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "log_heartbeat_rcvd";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "log_heartbeat_sent";
    case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "rcvdmsg_general_err";
    case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "rcvdmsg_unencrypted";
    case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "rcvdmsg_unrecognized";
    case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE: return "rcvdmsg_for_other_instance";
  }
  return "unknown";
}

/* ---- callbacks ---- */
static OtrlPolicy cb_policy(void *o, ConnContext *c) { (void)o; (void)c; return pol; }
static void cb_create_privkey(void *o, const char *a, const char *p) {
  (void)o; (void)a; (void)p;
  printf("error no private key loaded\n");
}
static int cb_is_logged_in(void *o, const char *a, const char *p, const char *r) {
  (void)o; (void)a; (void)p; (void)r;
  return 1;
}
static void cb_inject(void *o, const char *a, const char *p, const char *r, const char *m) {
  (void)o; (void)a; (void)p; (void)r;
  /* In FINISHED libotr "sends" an empty string instead of the user's text. */
  if (*m) hexout("out", (const unsigned char *)m, strlen(m));
}
static void cb_noop(void *o) { (void)o; }
static void cb_new_fp(void *o, OtrlUserState u, const char *a, const char *p, const char *n,
                      unsigned char fp[20]) {
  (void)o; (void)u; (void)a; (void)p; (void)n; (void)fp;
}
static void cb_gone_secure(void *o, ConnContext *c) {
  (void)o;
  printf("secure v%d %08x\n", c->protocol_version, (unsigned)c->their_instance);
  hexout("ssid", c->sessionid, c->sessionid_len);
  printf("bold %d\n", c->sessionid_half == OTRL_SESSIONID_FIRST_HALF_BOLD ? 0 : 1);
  if (c->active_fingerprint) hexout("theirfp", c->active_fingerprint->fingerprint, 20);
}
static void cb_gone_insecure(void *o, ConnContext *c) { (void)o; (void)c; printf("insecure\n"); }
static void cb_still_secure(void *o, ConnContext *c, int r) {
  (void)o; (void)c; (void)r;
  printf("still_secure\n");
}
static int cb_max_size(void *o, ConnContext *c) { (void)o; (void)c; return mms; }
static const char *cb_account_name(void *o, const char *a, const char *p) {
  (void)o; (void)p;
  return a;
}
static void cb_account_name_free(void *o, const char *a) { (void)o; (void)a; }
static void cb_symkey(void *o, ConnContext *c, unsigned int use, const unsigned char *d, size_t n,
                      const unsigned char *k) {
  (void)o; (void)c;
  printf("symkey_use %u\n", use);
  hexout("symkey_data", d, n);
  hexout("symkey", k, 32);
}
static const char *cb_errmsg(void *o, ConnContext *c, OtrlErrorCode e) {
  (void)o; (void)c; (void)e;
  return "libotr error";
}
static void cb_errmsg_free(void *o, const char *m) { (void)o; (void)m; }
static void cb_smp_event(void *o, OtrlSMPEvent e, ConnContext *c, unsigned short pct, char *q) {
  (void)pct;
  printf("smp %s\n", smp_name(e));
  if (q) hexout("smpq", (const unsigned char *)q, strlen(q));
  if (e == OTRL_SMPEVENT_CHEATED || e == OTRL_SMPEVENT_ERROR) otrl_message_abort_smp(us, &ops, o, c);
  if (e == OTRL_SMPEVENT_SUCCESS || e == OTRL_SMPEVENT_FAILURE) {
    const char *t = c->active_fingerprint ? c->active_fingerprint->trust : NULL;
    printf("trust %s\n", t && *t ? t : "-");
  }
}
static void cb_msg_event(void *o, OtrlMessageEvent e, ConnContext *c, const char *m, gcry_error_t err) {
  (void)o; (void)c; (void)err;
  printf("msgevent %s\n", msg_name(e));
  if (m) hexout("msgevent_text", (const unsigned char *)m, strlen(m));
}
static void cb_create_instag(void *o, const char *a, const char *p) {
  (void)o; (void)a; (void)p;
  printf("error no instance tag\n");
}

static ConnContext *best_context(void) {
  return otrl_context_find(us, PEER, ACCOUNT, PROTOCOL, OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
}

static void print_fp(void) {
  unsigned char fp[20];
  if (otrl_privkey_fingerprint_raw(us, fp, ACCOUNT, PROTOCOL))
    hexout("ourfp", fp, 20);
  else
    printf("error no key\n");
}

static void command(char *line) {
  char *arg = strchr(line, ' ');
  if (arg) *arg++ = 0;
  size_t n = 0, m = 0;
  unsigned char *a = NULL, *b = NULL;
  ConnContext *ctx = best_context();

  if (!strcmp(line, "genkey")) {
    FILE *f = tmpfile();
    if (!f || otrl_privkey_generate_FILEp(us, f, ACCOUNT, PROTOCOL)) printf("error genkey\n");
    else print_fp();
    if (f) fclose(f);
  } else if (!strcmp(line, "readkey") || !strcmp(line, "writekey")) {
    a = unhex(arg, &n);
    gcry_error_t err = 1;
    if (a && !strcmp(line, "readkey")) err = otrl_privkey_read(us, (const char *)a);
    else if (a) err = otrl_privkey_generate(us, (const char *)a, ACCOUNT, PROTOCOL);
    if (err) printf("error %s failed\n", line);
    else print_fp();
  } else if (!strcmp(line, "fp") && arg) {
    char *proto = strchr(arg, ' ');
    if (proto) {
      *proto++ = 0;
      a = unhex(arg, &n);
      b = unhex(proto, &m);
    }
    unsigned char fp[20];
    if (a && b && otrl_privkey_fingerprint_raw(us, fp, (const char *)a, (const char *)b))
      hexout("fp", fp, 20);
    else
      printf("error no key for that account\n");
  } else if (!strcmp(line, "policy") && arg) {
    pol = (OtrlPolicy)strtol(arg, NULL, 0);
  } else if (!strcmp(line, "mms") && arg) {
    mms = atoi(arg);
  } else if (!strcmp(line, "query")) {
    char *q = otrl_proto_default_query_msg(ACCOUNT, pol);
    if (q) cb_inject(NULL, ACCOUNT, PROTOCOL, PEER, q);
    free(q);
  } else if (!strcmp(line, "recv") && (a = unhex(arg, &n))) {
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int ignore = otrl_message_receiving(us, &ops, NULL, ACCOUNT, PROTOCOL, PEER, (char *)a,
                                        &newmsg, &tlvs, NULL, NULL, NULL);
    if (!ignore) {
      const char *shown = newmsg ? newmsg : (const char *)a;
      hexout("shown", (const unsigned char *)shown, strlen(shown));
    }
    for (OtrlTLV *t = tlvs; t; t = t->next) printf("tlv %u\n", t->type);
    otrl_tlv_free(tlvs);
    otrl_message_free(newmsg);
  } else if (!strcmp(line, "send") && (a = unhex(arg, &n))) {
    char *newmsg = NULL;
    gcry_error_t err = otrl_message_sending(us, &ops, NULL, ACCOUNT, PROTOCOL, PEER,
                                            OTRL_INSTAG_BEST, (const char *)a, NULL, &newmsg,
                                            OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) printf("error send\n");
    /* With FRAGMENT_SEND_ALL libotr injects whatever it changed (and leaves it in newmsg
     * too); newmsg NULL means "send the original text unchanged". */
    else if (!newmsg) hexout("out", a, n);
    otrl_message_free(newmsg);
  } else if (!strcmp(line, "smp") && ctx && (a = unhex(arg, &n))) {
    otrl_message_initiate_smp(us, &ops, NULL, ctx, a, n);
  } else if (!strcmp(line, "smpq") && ctx && arg) {
    char *sec = strchr(arg, ' ');
    if (sec) {
      *sec++ = 0;
      a = unhex(arg, &n);
      b = unhex(sec, &m);
    }
    if (a && b) otrl_message_initiate_smp_q(us, &ops, NULL, ctx, (const char *)a, b, m);
    else printf("error smpq arguments\n");
  } else if (!strcmp(line, "respond") && ctx && (a = unhex(arg, &n))) {
    otrl_message_respond_smp(us, &ops, NULL, ctx, a, n);
  } else if (!strcmp(line, "abort") && ctx) {
    otrl_message_abort_smp(us, &ops, NULL, ctx);
  } else if (!strcmp(line, "disconnect") && ctx) {
    otrl_message_disconnect(us, &ops, NULL, ACCOUNT, PROTOCOL, PEER, ctx->their_instance);
  } else if (!strcmp(line, "symkey") && ctx && arg) {
    char *data = strchr(arg, ' ');
    if (data) *data++ = 0;
    unsigned int use = (unsigned int)strtoul(arg, NULL, 0);
    a = unhex(data, &n);
    unsigned char key[32];
    if (a && !otrl_message_symkey(us, &ops, NULL, ctx, use, a, n, key)) hexout("mysymkey", key, 32);
    else printf("error symkey\n");
  } else if (!strcmp(line, "state")) {
    if (ctx)
      printf("state %d %d\n", (int)ctx->msgstate, ctx->smstate ? (int)ctx->smstate->nextExpected : -1);
    else
      printf("state none\n");
  } else {
    printf("error unknown or invalid command %s\n", line);
  }
  free(a);
  free(b);
}

int main(void) {
  OTRL_INIT;
  us = otrl_userstate_create();
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
  ops.received_symkey = cb_symkey;
  ops.otr_error_message = cb_errmsg;
  ops.otr_error_message_free = cb_errmsg_free;
  ops.handle_smp_event = cb_smp_event;
  ops.handle_msg_event = cb_msg_event;
  ops.create_instag = cb_create_instag;

  FILE *f = tmpfile();
  OtrlInsTag *tag = NULL;
  if (f && !otrl_instag_generate_FILEp(us, f, ACCOUNT, PROTOCOL))
    tag = otrl_instag_find(us, ACCOUNT, PROTOCOL);
  if (f) fclose(f);
  if (tag) printf("instag %08x\n", (unsigned)tag->instag);
  else printf("error instag\n");
  printf("done\n");
  fflush(stdout);

  size_t cap = 0;
  char *line = NULL;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) > 0) {
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "quit")) break;
    command(line);
    printf("done\n");
    fflush(stdout);
  }
  free(line);
  otrl_userstate_free(us);
  return 0;
}
