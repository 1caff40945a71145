// A stored trace with the code it was made from (GET /embed/data/ID): what a share link opens.
import type { Trace } from "./types";
import { ApiError } from "./client";

export interface SharedTrace { id: string; source: string; trace: Trace }

/** The public trace API (/api/v1/traces/ID) leaves the source out; the share link needs it so
 *  the editor shows the code the graph was made from. Failures are ApiErrors, like the API's. */
export async function getSharedTrace(id: string): Promise<SharedTrace> {
  let res: Response;
  try {
    res = await fetch(`/embed/data/${encodeURIComponent(id)}`);
  } catch (e) {
    throw new ApiError(0, "network", "The gradtrace service could not be reached. Is `gradtrace serve` running?", String(e));
  }
  if (!res.ok) {
    let code = `http_${res.status}`, message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch { /* not JSON */ }
    throw new ApiError(res.status, code, message);
  }
  return (await res.json()) as SharedTrace;
}
