// Raw deflate both ways, for #code= links and exported files. The browser's Compression/
// DecompressionStream where it has them; reading falls back to fflate (a few KB of JS) in
// browsers without them (Safari before 16.4, Firefox before 113). Writing has no fallback:
// codec.ts then writes plain text, so the 3 KB embed script never carries a compressor.
import { inflateSync } from "fflate";

async function through(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const res = new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(stream));
  return new Uint8Array(await res.arrayBuffer());
}

/** Compressed bytes, or null where the browser cannot compress. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array | null> {
  if (typeof CompressionStream === "undefined") return null;
  return through(bytes, new CompressionStream("deflate-raw"));
}

export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  if (typeof DecompressionStream === "undefined") return inflateSync(bytes);
  return through(bytes, new DecompressionStream("deflate-raw"));
}
