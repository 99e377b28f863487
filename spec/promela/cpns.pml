/*
 * Issue #14: the composed CPNS protocol (seed 5.x.1, 5.x.2 and our profile of
 * them) as messages between a CPNS Server, two PN GWs and a PNE, with a
 * Dolev-Yao attacker who IS the network (and the relay). See
 * spec/model-checking.md for what is proved, the bound, and what is not.
 *
 * Run one property at a time, one variant at a time:
 *   spin -a -DPROP=<n> [-DNO_RSPAUTH] [-DQOP_AUTH] [-DOTK_UNBOUND] [-DNO_CUT] [-DSEED] cpns.pml
 *   gcc -O2 -DSAFETY -o pan pan.c && ./pan -E
 * (-E: a process blocked because the attacker dropped its message is not an error.)
 *
 * Crypto is symbolic. A message is (kind, src, dst, a, c, body, key):
 *   key  = the secret whose MAC (Digest response, rspauth) or AEAD seal protects
 *          it; NONE for an unprotected message. Only someone who knows `key`
 *          can make a message with that key (no inversion, no guessing).
 *   src, dst, a are covered by the MAC (Digest's username, realm and nonce;
 *          the AAD of a sealed key names issuer, addressee and version);
 *   c    = a sealed payload (a key): readable only with `key`;
 *   body = covered only with qop=auth-int (our profile); with qop=auth
 *          (-DQOP_AUTH) anyone on the path may rewrite it.
 *
 * Implements: MODEL-SECRECY, MODEL-AGREEMENT-ENTITY, MODEL-AGREEMENT-PEER, MODEL-NO-REPLAY, MODEL-CUT-THROUGH, MODEL-RELAY-INTEGRITY, MODEL-VARIANTS, MODEL-NAMES
 */

/* The property checked in this run (one per run, so each gets its own figures). */
#define P_SECRECY          1  /* MODEL-SECRECY */
#define P_AGREEMENT_ENTITY 2  /* MODEL-AGREEMENT-ENTITY */
#define P_AGREEMENT_PEER   3  /* MODEL-AGREEMENT-PEER */
#define P_NO_REPLAY        4  /* MODEL-NO-REPLAY */
#define P_CUT_THROUGH      5  /* MODEL-CUT-THROUGH */
#define P_RELAY_INTEGRITY  6  /* MODEL-RELAY-INTEGRITY */
#ifndef PROP
#define PROP 0
#endif
#define CHECK(p, cond) assert(PROP != p || (cond))

/* The seed as written: no server authentication, RFC 2617 qop=auth, and an
 * OTK "secured by EUKey" with nothing that ties its delivery to its addressee. */
#ifdef SEED
#define NO_RSPAUTH
#define QOP_AUTH
#define OTK_UNBOUND
#endif

/* ---- atoms: principals, keys, nonces, bodies ---- */
#define NONE 0
#define S    1   /* the CPNS Server */
#define G1   2   /* PN GW 1: issues an OTK to the PNE, and rotates its EUKey */
#define G2   3   /* PN GW 2: authenticates to the server beside the PNE */
#define P    4   /* the PNE */
#define X    5   /* a PNE of the attacker's own, enrolled like any other */
#define KP   6   /* EUKey of P */
#define KG1  7   /* EUKey of G1, version 1 */
#define KG1N 8   /* EUKey of G1, version 2 (after rotation) */
#define KG2  9   /* EUKey of G2 */
#define KX   10  /* EUKey of X: the attacker knows it */
#define HA1  11  /* the owner's password hash: wraps a new EUKey (key transport) */
#define OTK1 12  /* the OTK G1 issues to P */
#define SK1  13  /* the peer-session secret HKDF(OTK1, nonce:cnonce): known iff OTK1 is */
#define N1   14  /* server nonces (each entity's challenge; public) */
#define N2   15
#define B1   16  /* the request body an entity sends */
#define B2   17  /* a request body of the attacker's */
#define R1   18  /* the answer body the server sends */
#define R2   19  /* an answer body of the attacker's */
#define NATOMS 20

mtype:msg = { AUTH_REQ, AUTH_OK, DEPOSIT_REQ, FETCH_REQ, DELIVERY, CONSUME_REQ, CONSENT,
              ROTATE_REQ, ROTATE_OK, SESSION_REQ, SESSION_OK };

/* ---- the machines of machines/*.ts, by their own names (checked by test/spec/promela.test.ts) ---- */
mtype:entity = { entity_active, entity_revoked, entity_ROTATE, entity_REVOKE, entity_AUTHENTICATE };
/* omitted: entity_unassigned entity_ENROLL (every entity starts enrolled) */
mtype:agent = { agent_enrolled, agent_enrolling, agent_authenticating, agent_authenticated,
                agent_AUTHENTICATE, agent_SERVER_PROVED, agent_SERVER_UNPROVEN, agent_ENROLL,
                agent_ENROLLED };
/* omitted: agent_unenrolled agent_ENROLL_FAILED agent_REJECTED (a refusal is a dropped answer here) */
mtype:otk = { otk_created, otk_deposited, otk_delivered, otk_consumed, otk_revoked,
              otk_DEPOSIT, otk_DELIVER, otk_CONSUME, otk_ISSUER_KEY_CHANGED, otk_PEER_REVOKED };
/* omitted: otk_expired otk_EXPIRE (time is not modelled) */
mtype:gatewaySession = { gatewaySession_created, gatewaySession_offered, gatewaySession_consuming,
                         gatewaySession_open, gatewaySession_DEPOSITED, gatewaySession_PEER_PROVED_OTK,
                         gatewaySession_SERVER_CONSUMED };
/* omitted: gatewaySession_refused gatewaySession_expired gatewaySession_closed gatewaySession_withdrawn
   gatewaySession_DEPOSIT_REFUSED gatewaySession_SERVER_REFUSED gatewaySession_MESSAGE gatewaySession_RELAY
   gatewaySession_EXPIRE gatewaySession_WITHDRAW gatewaySession_CLOSE */
mtype:peerSession = { peerSession_holding, peerSession_opening, peerSession_open, peerSession_refused,
                      peerSession_OPEN, peerSession_GATEWAY_PROVED, peerSession_GATEWAY_UNPROVEN };
/* omitted: peerSession_expired peerSession_closed peerSession_REJECTED peerSession_MESSAGE
   peerSession_RELAY peerSession_EXPIRE peerSession_CLOSE */
/* omitted: secureChannelClient_establishing secureChannelClient_open secureChannelClient_closing
   secureChannelClient_closed secureChannelClient_expired secureChannelClient_failed
   secureChannelClient_AUTHENTICATED secureChannelClient_SERVER_UNPROVEN secureChannelClient_REFUSED
   secureChannelClient_EXPIRE secureChannelClient_SEND secureChannelClient_RECEIVE
   secureChannelClient_REKEY secureChannelClient_CLOSE secureChannelClient_CLOSED
   secureChannelServer_establishing secureChannelServer_open secureChannelServer_closing
   secureChannelServer_closed secureChannelServer_expired secureChannelServer_AUTHENTICATED
   secureChannelServer_EXPIRE secureChannelServer_RECEIVE secureChannelServer_SEND
   secureChannelServer_REKEY secureChannelServer_CLOSE_RECEIVED secureChannelServer_CLOSE_ANSWERED
   (the secure channel of seed 5.x.4 is not in this model: spec/model-checking.md) */


/* A machine event, printed in simulation (the trail replay) for the sequence diagrams. */
#define EVENT(who, ev, st) printf("EVENT %d %e %e\n", who, ev, st)

/*
 * ---- the network is the attacker ----
 * An honest send is read by the attacker at once (it learns every field, and the
 * sealed payload if it knows the key) and kept; nothing arrives unless the attacker
 * delivers it. Delivery is a rendezvous into the receiver's loop, so a message
 * leaves no trace in the state once handled. Dropping is never delivering;
 * reordering and replay are delivering kept messages in any order, any number of
 * times, to any receiver.
 */
chan toS = [0] of { mtype:msg, byte, byte, byte, byte, byte, byte };
chan toG1 = [0] of { mtype:msg, byte, byte, byte, byte, byte, byte };
chan toG2 = [0] of { mtype:msg, byte, byte, byte, byte, byte, byte };
chan toP = [0] of { mtype:msg, byte, byte, byte, byte, byte, byte };

/* Scratch for one atomic step (a message in transit); not part of the state. */
hidden mtype:msg hk;
hidden byte hs, hd, ha, hc, hb, hkey, hi, slot;
hidden mtype:entity hent;   /* a constant state, printed by name */

/* ---- what the attacker knows; which keys leaked on purpose (compromise after revocation or rotation) ---- */
bool know[NATOMS];
bool leaked[NATOMS];

/*
 * ---- the attacker's memory: every protected message an honest party sent ----
 * One slot per message an honest party can send (its kind and the fields that
 * vary), so the memory is a set, not an arrival order.
 */
#define NSLOTS 20
bool kept[NSLOTS];
mtype:msg mk[NSLOTS];
byte ms[NSLOTS], md[NSLOTS], ma[NSLOTS], mc[NSLOTS], mb[NSLOTS], mkey[NSLOTS];

/* ---- ghost facts for the properties (never read by the protocol) ---- */
/* entity <-> server, per entity (P, G2) and nonce (N1, N2): index IX(entity, nonce) */
#define IX(e, n) ((e == P -> 0 : 2) + (n == N1 -> 0 : 1))
bool ranES[4];       /* the entity sent an authenticated request with this nonce */
bool acceptedES[4];  /* the server accepted it */
bool ranSE[4];       /* the server answered it */
bool acceptedSE[4];  /* the entity accepted the answer */
/* PN GW <-> peer, for OTK1 */
bool ranPG;          /* P sent its session request to G1 with OTK1 */
bool ranGP;          /* G1 proved OTK1 back to P */
bool gatewayOpened;  /* G1 opened the session */
bool peerOpened;     /* P opened the session */
bool cut;            /* G1's key was rotated or P was revoked (at the server) */
bool consumedBeforeCut;
byte delivered;      /* how many times the server delivered OTK1 */
byte consumed;       /* ... and consented to its use */

/* The attacker reads a message: every field in clear, the sealed payload if it knows the key. */
inline learn(s, d, a, c, b, key) {
  know[s] = 1; know[d] = 1; know[a] = 1; know[b] = 1;
  if
  :: key == NONE || know[key] -> know[c] = 1
  :: else -> skip
  fi;
  know[NONE] = 1;
  if :: know[OTK1] -> know[SK1] = 1 :: else -> skip fi;
  /* Secrecy: an EUKey is known only if it leaked; an OTK or session key only if an end's EUKey did. */
  CHECK(P_SECRECY, !know[KP] || leaked[KP]);
  CHECK(P_SECRECY, !know[KG1] || leaked[KG1]);
  CHECK(P_SECRECY, !know[KG1N] && !know[KG2] && !know[HA1]);
  CHECK(P_SECRECY, !know[OTK1] || leaked[KP] || leaked[KG1]);
  CHECK(P_SECRECY, !know[SK1] || leaked[KP] || leaked[KG1])
}

/* Keep a message in its slot (the slot's content is fixed: checked on every run). */
inline remember(k, s, d, a, c, b, key) {
  if
  :: k == AUTH_REQ -> slot = 0 + IX(s, a)
  :: k == AUTH_OK -> slot = 4 + IX(d, a)
  :: k == DEPOSIT_REQ -> slot = 8
  :: k == FETCH_REQ -> slot = 9
  :: k == DELIVERY -> slot = 10 + (d == X)
  :: k == CONSUME_REQ -> slot = 12 + (key == KG1N)
  :: k == CONSENT -> slot = 14 + (key == KG1N)
  :: k == ROTATE_REQ -> slot = 16
  :: k == ROTATE_OK -> slot = 17
  :: k == SESSION_REQ -> slot = 18
  :: k == SESSION_OK -> slot = 19
  fi;
  assert(!kept[slot] || (mk[slot] == k && ms[slot] == s && md[slot] == d && ma[slot] == a &&
                         mc[slot] == c && mb[slot] == b && mkey[slot] == key));
  kept[slot] = 1; mk[slot] = k; ms[slot] = s; md[slot] = d; ma[slot] = a; mc[slot] = c;
  mb[slot] = b; mkey[slot] = key;
  slot = 0
}

/* An honest party sends: the attacker reads and keeps it. */
#define SEND(k, s, d, a, c, b, key) \
  printf("MSG %d %d %e %d %d %d %d %d\n", s, d, k, a, c, b, key); \
  learn(s, d, a, c, b, key); \
  remember(k, s, d, a, c, b, key)

/* A receive step of an honest party: the message is in hk, hs, hd, ha, hc, hb, hkey. */
#define RECEIVE(inbox) inbox?hk, hs, hd, ha, hc, hb, hkey

/* ---------------------------------------------------------------- CPNS Server */
proctype Server() {
  mtype:entity entP = entity_active;
  bool rotated;
  byte keyG1 = KG1;
  bool used[4];   /* the nonce ledger: a (username, nonce, nc) is accepted once */
  mtype:otk otkState = otk_created;
  byte otkValue, depositKey;

end:
  do
  :: atomic { RECEIVE(toS) ->
     if
     /* 5.x.2 entity authentication (Digest with the EUKey): the relayed or direct exchange */
     :: hk == AUTH_REQ && hd == S && (ha == N1 || ha == N2) &&
        ((hs == P && hkey == KP && entP == entity_active) || (hs == G2 && hkey == KG2)) &&
        !used[IX(hs, ha)] ->
        used[IX(hs, ha)] = 1;
        hent = entity_active; EVENT(S, entity_AUTHENTICATE, hent);
        CHECK(P_AGREEMENT_ENTITY, ranES[IX(hs, ha)]);
        CHECK(P_NO_REPLAY, !acceptedES[IX(hs, ha)]);
        CHECK(P_RELAY_INTEGRITY, hb == B1);
        acceptedES[IX(hs, ha)] = 1;
        ranSE[IX(hs, ha)] = 1;
#ifdef SEED
        SEND(AUTH_OK, S, hs, ha, NONE, R1, NONE)   /* the seed's server proves nothing */
#else
        SEND(AUTH_OK, S, hs, ha, NONE, R1, hkey)   /* rspauth under the same EUKey */
#endif
     /* OTK deposit (PN GW only, for an active peer), sealed under the issuer's current EUKey */
     :: hk == DEPOSIT_REQ && hd == S && hs == G1 && hkey == keyG1 && otkState == otk_created &&
        ha == P && entP == entity_active ->
        otkState = otk_deposited; otkValue = hc; depositKey = hkey;
        EVENT(S, otk_DEPOSIT, otkState)
     /* OTK delivery: once, to its addressee, while issuer key and addressee are unchanged */
     :: hk == FETCH_REQ && hd == S && otkState == otk_deposited &&
        ((hs == P && hkey == KP && entP == entity_active) || (hs == X && hkey == KX)) &&
#ifndef OTK_UNBOUND
        hs == P &&
#endif
        keyG1 == depositKey ->
        otkState = otk_delivered; delivered++;
        EVENT(S, otk_DELIVER, otkState);
        SEND(DELIVERY, S, hs, G1, otkValue, NONE, hkey)
     /* OTK consumption: only by its issuer, with the key version it deposited under */
     :: hk == CONSUME_REQ && hd == S && hs == G1 && hkey == keyG1 &&
#ifndef NO_CUT
        hkey == depositKey && entP == entity_active &&
#endif
        otkState == otk_delivered ->
        otkState = otk_consumed; consumed++;
        consumedBeforeCut = !cut;
        EVENT(S, otk_CONSUME, otkState);
        SEND(CONSENT, S, G1, NONE, NONE, NONE, hkey)
     /* rotation (seed 5.x.1 re-assignment): the new EUKey travels sealed under the owner's HA1 */
     :: hk == ROTATE_REQ && hd == S && hs == G1 && hkey == HA1 && !rotated ->
        rotated = 1; keyG1 = KG1N; cut = 1;
        hent = entity_active; EVENT(S, entity_ROTATE, hent);
        SEND(ROTATE_OK, S, G1, NONE, KG1N, NONE, HA1)
     :: else -> skip   /* refused: the real server answers 401/403/409/410, which proves nothing */
     fi }
  /* the owner revokes P; its EUKey is then stolen (the worst case revocation is for) */
  :: atomic { entP == entity_active ->
     entP = entity_revoked; cut = 1;
     EVENT(S, entity_REVOKE, entP);
     leaked[KP] = 1; learn(NONE, NONE, NONE, KP, NONE, NONE) }
#ifndef NO_CUT
  /* the record is settled before anything else uses it: revocation and rotation cut through */
  :: atomic { (otkState == otk_deposited || otkState == otk_delivered) && keyG1 != depositKey ->
     otkState = otk_revoked; EVENT(S, otk_ISSUER_KEY_CHANGED, otkState) }
  :: atomic { (otkState == otk_deposited || otkState == otk_delivered) && entP == entity_revoked ->
     otkState = otk_revoked; EVENT(S, otk_PEER_REVOKED, otkState) }
#endif
  od
}

/* An entity's Digest exchange with the server: the request, then the answer it accepts. */
inline startAuthentication(me, myKey) {
  agentState = agent_authenticating;
  EVENT(me, agent_AUTHENTICATE, agentState);
  ranES[IX(me, n)] = 1;
  SEND(AUTH_REQ, me, S, n, NONE, B1, myKey)
}
#ifdef NO_RSPAUTH
#define PROVES(myKey) true   /* rspauth not required: any 200 for this request is taken as the server's */
#else
#define PROVES(myKey) (hkey == myKey)
#endif
inline answerArrived(me, myKey) {
  if
  :: PROVES(myKey) ->
     agentState = agent_authenticated;
     EVENT(me, agent_SERVER_PROVED, agentState);
     CHECK(P_AGREEMENT_ENTITY, ranSE[IX(me, n)] || leaked[myKey]);
     CHECK(P_NO_REPLAY, !acceptedSE[IX(me, n)]);
     CHECK(P_RELAY_INTEGRITY, hb == R1 || leaked[myKey]);
     acceptedSE[IX(me, n)] = 1
  :: else ->
     agentState = agent_enrolled;
     EVENT(me, agent_SERVER_UNPROVEN, agentState)
  fi;
  authDone = 1
}

/* ---------------------------------------------------------------- the PNE */
proctype Pne() {
  mtype:agent agentState = agent_enrolled;
  mtype:peerSession peer;
  byte n, otk, issuer;
  bool authDone, fetching;

end:
  do
  /* 1. the PNE <-> Server exchange, carried by the relay (the attacker is the relay) */
  :: atomic { agentState == agent_enrolled && !authDone -> n = N1; startAuthentication(P, KP) }
  :: atomic { agentState == agent_enrolled && !authDone -> n = N2; startAuthentication(P, KP) }
  /* 2. fetch the OTK addressed to it (sealed under its EUKey, bound to issuer and addressee) */
  :: atomic { authDone && !fetching -> fetching = 1; SEND(FETCH_REQ, P, S, NONE, NONE, NONE, KP) }
  /* 3. mutual Digest with the OTK towards the PN GW the OTK came from */
  :: atomic { peer == peerSession_holding ->
     peer = peerSession_opening;
     EVENT(P, peerSession_OPEN, peer);
     ranPG = (otk == OTK1 && issuer == G1);
     SEND(SESSION_REQ, P, issuer, NONE, NONE, NONE, otk) }
  :: atomic { RECEIVE(toP) ->
     if
     :: hk == AUTH_OK && hd == P && ha == n && agentState == agent_authenticating ->
        answerArrived(P, KP)
     :: hk == DELIVERY && hd == P && hkey == KP && fetching && peer == 0 ->
        otk = hc; issuer = ha; peer = peerSession_holding
     :: hk == SESSION_OK && hs == issuer && hd == P && peer == peerSession_opening && hkey == otk ->
        peer = peerSession_open;
        EVENT(P, peerSession_GATEWAY_PROVED, peer);
        CHECK(P_AGREEMENT_PEER, ranGP || leaked[KP] || leaked[KG1]);
        CHECK(P_NO_REPLAY, !peerOpened);
        peerOpened = 1
     :: hk == SESSION_OK && hs == issuer && hd == P && peer == peerSession_opening && hkey != otk ->
        peer = peerSession_refused;
        EVENT(P, peerSession_GATEWAY_UNPROVEN, peer)
     :: else -> skip
     fi }
  od
}

/* ---------------------------------------------------------------- PN GW 1: issues OTK1 to P, rotates its EUKey */
proctype Gateway1() {
  mtype:gatewaySession gw = gatewaySession_created;
  mtype:agent agentState = agent_enrolled;
  byte myKey = KG1;

end:
  do
  :: atomic { gw == gatewaySession_created ->
     SEND(DEPOSIT_REQ, G1, S, P, OTK1, NONE, myKey);
     gw = gatewaySession_offered;   /* the 201 is not modelled: the PN GW waits either way */
     EVENT(G1, gatewaySession_DEPOSITED, gw) }
  /* the owner rotates G1's EUKey (seed 5.x.1 re-assignment) */
  :: atomic { gw != gatewaySession_created && agentState == agent_enrolled && myKey == KG1 ->
     agentState = agent_enrolling;
     EVENT(G1, agent_ENROLL, agentState);
     SEND(ROTATE_REQ, G1, S, NONE, NONE, NONE, HA1) }
  /* once G1 holds the new key, the old one is stolen (the worst case rotation is for) */
  :: atomic { myKey == KG1N && !leaked[KG1] -> leaked[KG1] = 1; learn(NONE, NONE, NONE, KG1, NONE, NONE) }
  :: atomic { RECEIVE(toG1) ->
     if
     /* the peer proved OTK1 (Digest, username = P): ask the server to consume it */
     :: hk == SESSION_REQ && hd == G1 && hs == P && hkey == OTK1 && gw == gatewaySession_offered ->
        gw = gatewaySession_consuming;
        EVENT(G1, gatewaySession_PEER_PROVED_OTK, gw);
        SEND(CONSUME_REQ, G1, S, NONE, NONE, NONE, myKey)
     /* the server's consent, with rspauth under G1's current EUKey: open and prove OTK1 back */
     :: hk == CONSENT && hd == G1 && hkey == myKey && gw == gatewaySession_consuming ->
        gw = gatewaySession_open;
        EVENT(G1, gatewaySession_SERVER_CONSUMED, gw);
        CHECK(P_AGREEMENT_PEER, ranPG || leaked[KP]);
        CHECK(P_NO_REPLAY, !gatewayOpened && consumed == 1 && delivered == 1);
        CHECK(P_CUT_THROUGH, consumedBeforeCut);
        gatewayOpened = 1; ranGP = 1;
        SEND(SESSION_OK, G1, P, NONE, NONE, NONE, OTK1)
     /* the rotated EUKey, sealed under the owner's HA1 */
     :: hk == ROTATE_OK && hd == G1 && hkey == HA1 && agentState == agent_enrolling ->
        myKey = hc; agentState = agent_enrolled;
        EVENT(G1, agent_ENROLLED, agentState)
     :: else -> skip
     fi }
  od
}

/* ---------------------------------------------------------------- PN GW 2: authenticates beside the PNE */
proctype Gateway2() {
  mtype:agent agentState = agent_enrolled;
  byte n;
  bool authDone;
end:
  do
  :: atomic { agentState == agent_enrolled && !authDone -> n = N1; startAuthentication(G2, KG2) }
  :: atomic { agentState == agent_enrolled && !authDone -> n = N2; startAuthentication(G2, KG2) }
  :: atomic { RECEIVE(toG2) ->
     if
     :: hk == AUTH_OK && hd == G2 && ha == n && agentState == agent_authenticating ->
        answerArrived(G2, KG2)
     :: else -> skip
     fi }
  od
}

/* ---------------------------------------------------------------- the attacker: the network and the relay */

/*
 * Hand the message in transit to the party it names (all of them always listen).
 * Sending it elsewhere is useless: every receiver checks that it is the addressee
 * (the realm or the request it answers), so the attacker forges a new
 * addressee instead, which it can only where it knows the key.
 */
inline deliver() {
  if
  :: hd == S -> toS!hk, hs, hd, ha, hc, hb, hkey
  :: hd == G1 -> toG1!hk, hs, hd, ha, hc, hb, hkey
  :: hd == G2 -> toG2!hk, hs, hd, ha, hc, hb, hkey
  :: hd == P -> toP!hk, hs, hd, ha, hc, hb, hkey
  :: else -> skip   /* to X, the attacker's own entity: it has read it already */
  fi
}

proctype Attacker() {
end:
  do
  /* deliver a kept message (again), in any order; with qop=auth its body can be rewritten */
  :: atomic {
       select(hi : 0 .. NSLOTS - 1);
       if
       :: kept[hi] ->
          hk = mk[hi]; hs = ms[hi]; hd = md[hi]; ha = ma[hi]; hc = mc[hi]; hb = mb[hi]; hkey = mkey[hi];
#ifdef QOP_AUTH
          if
          :: hk == AUTH_REQ -> hb = B2
          :: hk == AUTH_OK -> hb = R2
          :: true -> skip
          fi;
#endif
          printf("DELIVER %d %d %e %d %d %d %d %d\n", hs, hd, hk, ha, hc, hb, hkey);
          deliver()
       :: else -> skip
       fi
     }
  /* forge a message from what it knows: any key it knows (or none), any public field */
  :: atomic {
       ha = NONE; hc = NONE; hb = NONE;
       if
       :: hk = AUTH_REQ; hd = S; select(hs : G2 .. P); select(ha : N1 .. N2); select(hb : B1 .. B2)
       :: hk = AUTH_OK; hs = S; select(hd : G2 .. P); select(ha : N1 .. N2); select(hb : R1 .. R2)
       :: hk = FETCH_REQ; hd = S; select(hs : P .. X)
       :: hk = DELIVERY; hs = S; hd = P; ha = G1; select(hc : KX .. SK1)
       :: hk = CONSUME_REQ; hs = G1; hd = S
       :: hk = CONSENT; hs = S; hd = G1
       :: hk = SESSION_REQ; hs = P; hd = G1
       :: hk = SESSION_OK; hs = G1; hd = P
       :: hk = DEPOSIT_REQ; hs = G1; hd = S; ha = P; select(hc : KX .. SK1)
       fi;
       if
       :: hkey = NONE
       :: hkey = KP
       :: hkey = KG1
       :: hkey = KX
       :: hkey = OTK1
       fi;
       if
       :: know[hc] && know[hkey] ->
          printf("FORGE %d %d %e %d %d %d %d %d\n", hs, hd, hk, ha, hc, hb, hkey);
          deliver()
       :: else -> skip
       fi
     }
  od
}

init {
  atomic {
    know[NONE] = 1; know[S] = 1; know[G1] = 1; know[G2] = 1; know[P] = 1; know[X] = 1;
    know[KX] = 1; know[N1] = 1; know[N2] = 1; know[B1] = 1; know[B2] = 1; know[R1] = 1; know[R2] = 1;
    run Server(); run Pne(); run Gateway1(); run Gateway2(); run Attacker()
  }
}
