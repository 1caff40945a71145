// Code <-> URL fragment (`#code=...`): deflate-raw + base64url, so a snippet lives in the link and nothing is stored.
const PREFIX = "z"; // "z" = deflate-raw; lets the format change later without breaking old links

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const res = new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(stream));
  return new Uint8Array(await res.arrayBuffer());
}

/** Source code -> the value of `code=` in a URL fragment. */
export async function encodeCode(source: string): Promise<string> {
  const raw = new TextEncoder().encode(source);
  return PREFIX + toBase64Url(await pipe(raw, new CompressionStream("deflate-raw")));
}

/** Inverse of encodeCode; throws a readable Error on a damaged link. */
export async function decodeCode(value: string): Promise<string> {
  if (!value.startsWith(PREFIX)) throw new Error("Unknown code format in the link (expected it to start with 'z').");
  try {
    const bytes = await pipe(fromBase64Url(value.slice(PREFIX.length)), new DecompressionStream("deflate-raw"));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("The code in this link is damaged (it could not be decompressed). Copy the link again.");
  }
}

/** Reads `code=` out of a fragment such as `#code=z...&step=3`. */
export function fragmentParams(hash: string): URLSearchParams {
  return new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
}
