// Raw-deflate decoding: the browser's DecompressionStream where it has one, else fflate's
// (a few KB of JS) for browsers without it (Safari before 16.4, Firefox before 113).
import { inflateSync } from "fflate";

export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream === "undefined") return inflateSync(bytes);
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
