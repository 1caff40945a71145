// Code <-> URL fragment (`#code=...`): deflate-raw + base64url, so a snippet lives in the link and nothing is stored.
// The first character names the format, so it can change without breaking old links:
// "z" = deflate-raw, "u" = plain UTF-8 (what a browser without CompressionStream writes:
// Safari before 16.4, Firefox before 113; course sites embed us in whatever their readers use).
import { deflate, inflate } from "./deflate";

const PREFIX = "z";
const PLAIN = "u";

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

/** Source code -> the value of `code=` in a URL fragment. */
export async function encodeCode(source: string): Promise<string> {
  const raw = new TextEncoder().encode(source);
  const packed = await deflate(raw);
  return packed === null ? PLAIN + toBase64Url(raw) : PREFIX + toBase64Url(packed);
}

/** Could `value` be a code= value this module wrote (a format letter, then base64url only)?
 * Code itself never passes: it has spaces, newlines, `=` or brackets. */
export function isEncodedCode(value: string): boolean {
  return /^[zu][A-Za-z0-9_-]*$/.test(value);
}

/** Inverse of encodeCode; throws a readable Error on a damaged link. */
export async function decodeCode(value: string): Promise<string> {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  if (value.startsWith(PLAIN)) {
    try {
      return utf8.decode(fromBase64Url(value.slice(PLAIN.length)));
    } catch {
      throw new Error("The code in this link is damaged (it is not valid text). Copy the link again.");
    }
  }
  if (!value.startsWith(PREFIX)) throw new Error("Unknown code format in the link (expected it to start with 'z' or 'u').");
  try {
    return utf8.decode(await inflate(fromBase64Url(value.slice(PREFIX.length))));
  } catch {
    throw new Error("The code in this link is damaged (it could not be decompressed). Copy the link again.");
  }
}

/** Reads `code=` out of a fragment such as `#code=z...&step=3`. */
export function fragmentParams(hash: string): URLSearchParams {
  return new URLSearchParams(hash.startsWith("#") ? hash.slice(1) : hash);
}
