/**
 * The machines the reviewer page draws (issue #5): every lifecycle of machines/, by id. The
 * machines themselves are the formal model the handlers and agents consult; this list only says
 * which of them to show, under which title, and where each is defined. A unit test checks that
 * every id matches its machine's own id.
 *
 * Implements: SPEC-MODEL-PAGE
 * Implements: CHMODEL-PAGE
 * Implements: MUT-MACHINE-META
 */
import type { AnyStateMachine } from "xstate";
import { agentMachine } from "../../machines/agent.ts";
import { entityMachine } from "../../machines/entity.ts";
import { gatewaySessionMachine } from "../../machines/gateway-session.ts";
import { otkMachine } from "../../machines/otk.ts";
import { peerSessionMachine } from "../../machines/peer-session.ts";
import {
  secureChannelClientMachine,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";

export interface RegisteredMachine {
  /** The machine's own id (`machine.id`): the prefix of every state id, `entity.active`. */
  id: string;
  /** One line for reviewers. */
  title: string;
  /** Repository-relative path of the defining module. */
  source: string;
  machine: AnyStateMachine;
}

export const MACHINES: readonly RegisteredMachine[] = [
  {
    id: "entity",
    title: "Entity EUKey lifecycle, as the CPNS Server keeps it (seed 5.x.1-5.x.3)",
    source: "machines/entity.ts",
    machine: entityMachine,
  },
  {
    id: "agent",
    title: "EUKey lifecycle on the device: a PNE's or PN GW's agent (seed 5.x.1, 5.x.2)",
    source: "machines/agent.ts",
    machine: agentMachine,
  },
  {
    id: "otk",
    title: "One-time security key (OTK) at the CPNS Server, its only intermediary (seed 5.x.2)",
    source: "machines/otk.ts",
    machine: otkMachine,
  },
  {
    id: "gatewaySession",
    title: "Peer session on the PN GW: an OTK offered to a peer, the session it opens (seed 5.x.2)",
    source: "machines/gateway-session.ts",
    machine: gatewaySessionMachine,
  },
  {
    id: "peerSession",
    title: "Peer session on the peer (PNE or PN GW): mutual Digest with the OTK (seed 5.x.2)",
    source: "machines/peer-session.ts",
    machine: peerSessionMachine,
  },
  {
    id: "secureChannelClient",
    title:
      "Secure channel, client side: a PNE or PN GW where TLS is missing or a relay sits between (seed 5.x.4)",
    source: "machines/secure-channel.ts",
    machine: secureChannelClientMachine,
  },
  {
    id: "secureChannelServer",
    title:
      "Secure channel, server side: the CPNS Server or the PN GW a peer opened it with (seed 5.x.4)",
    source: "machines/secure-channel.ts",
    machine: secureChannelServerMachine,
  },
];
