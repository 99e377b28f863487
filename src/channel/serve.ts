/**
 * spec/channel.md §4-§6, the serving end of one record exchange, shared by the
 * CPNS Server (src/server/channels.ts) and the PN GW (src/gateway/channels.ts):
 * open the request record (nothing changes if it fails), answer a close with a
 * close, otherwise dispatch the inner request and seal the answer bound to its
 * request. Refusals become the stable channel codes; no key material is shown.
 *
 * Implements: FFS-NO-TLS, CHANNEL-BINDING
 */
import { CpnsError } from "../errors.ts";
import { type ChannelEndpoint, ChannelError } from "./endpoint.ts";
import { innerToRequest, recordResponse, responseToInner } from "./http.ts";
import type { InnerRequest } from "./inner.ts";
import type { RecordPlace } from "./record.ts";

/** A placeholder origin for inner requests dispatched in process. */
export const INNER_ORIGIN = "http://cpns.channel";

export function channelProblem(err: ChannelError): CpnsError {
  if (err.reason === "replay") return new CpnsError("ERR_CHANNEL_REPLAY");
  if (err.reason === "record") return new CpnsError("ERR_CHANNEL_RECORD");
  return new CpnsError("ERR_CHANNEL_CLOSED");
}

export interface AnswerRecordOptions {
  endpoint: ChannelEndpoint;
  record: Uint8Array;
  place: RecordPlace;
  /** Runs one inner request (as a Request against INNER_ORIGIN) and answers it. */
  dispatch: (request: Request, inner: InnerRequest) => Promise<Response>;
  /** The channel is over (closed by the client, closed or expired here): forget it. */
  forget: () => void;
}

export async function answerRecord(options: AnswerRecordOptions): Promise<Response> {
  const { endpoint, record, place } = options;
  let opened: Awaited<ReturnType<ChannelEndpoint["openRequest"]>>;
  try {
    opened = await endpoint.openRequest(record, place);
  } catch (err) {
    if (!(err instanceof ChannelError)) throw err;
    if (err.reason === "closed" || err.reason === "expired") options.forget();
    throw channelProblem(err);
  }
  if (opened.request === "close") {
    // Closed either way: answered, or unable to answer (no epoch left for the close
    // record): a 410, never a 500.
    try {
      return recordResponse(await endpoint.sealResponse("close", place, opened.binding));
    } catch (err) {
      if (err instanceof ChannelError) throw channelProblem(err);
      throw err;
    } finally {
      options.forget();
    }
  }
  const inner = opened.request;
  const answer = await options.dispatch(innerToRequest(inner, INNER_ORIGIN), inner);
  try {
    return recordResponse(
      await endpoint.sealResponse(await responseToInner(answer), place, opened.binding),
    );
  } catch (err) {
    if (!(err instanceof ChannelError)) throw err;
    // This end can send nothing more (expired, or no epoch left): the channel is gone.
    if (err.reason === "closed" || err.reason === "expired") options.forget();
    throw channelProblem(err);
  }
}
