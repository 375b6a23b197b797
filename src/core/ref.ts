/**
 * Refs name a stored image. Two spellings name the same object: the SHA-256 hex of its bytes,
 * and the CIDv1 (raw codec, sha2-256) that wraps the same digest.
 *
 * @example
 * ```ts
 * parseImageRef('bafkrei…').sha256 // the 64-character hex digest
 * sha256ToCid(hex)                  // 'bafkrei…'
 * ```
 */
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { base32 } from 'multiformats/bases/base32'
import { InvalidRefError } from './errors.js'

export const RAW_CODEC = 0x55
export const SHA2_256 = 0x12

export interface ImageRef {
  /** Lower-case SHA-256 hex digest of the bytes. */
  sha256: string
}

/** 64 hex digits, either case: a SHA-256 as a ref spells it. */
export const SHA256_HEX = /^[0-9a-fA-F]{64}$/
const MAX_REF_LENGTH = 200

/** The lower-case SHA-256 hex that `text` spells, or undefined if it is not one. */
export function asSha256(text: string): string | undefined {
  // a loop, not SHA256_HEX: asked once per object by jobs over millions, where the RegExp was 10% of the time
  if (text.length !== 64) return undefined
  let upper = false
  for (let i = 0; i < 64; i++) {
    const c = text.charCodeAt(i)
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue
    if (c < 65 || c > 70) return undefined
    upper = true
  }
  return upper ? text.toLowerCase() : text
}

/** Validates `ref` without touching any storage; throws {@link InvalidRefError}. */
export function parseImageRef(ref: unknown): ImageRef {
  if (typeof ref !== 'string') throw new InvalidRefError(ref, 'expected a string')
  if (SHA256_HEX.test(ref)) return { sha256: ref.toLowerCase() }
  if (ref.length === 0 || ref.length > MAX_REF_LENGTH || !/^[a-zA-Z0-9]+$/.test(ref)) {
    throw new InvalidRefError(ref, 'expected a 64-character SHA-256 hex digest or a CIDv1 (raw, sha2-256)')
  }
  let cid: CID
  try {
    cid = CID.parse(ref)
  } catch {
    throw new InvalidRefError(ref, 'neither a SHA-256 hex digest nor a CID')
  }
  if (cid.version !== 1 || cid.code !== RAW_CODEC || cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32) {
    throw new InvalidRefError(
      ref,
      'only CIDv1 with the raw codec and sha2-256 names the same bytes as a SHA-256 digest'
    )
  }
  return { sha256: Buffer.from(cid.multihash.digest).toString('hex') }
}

/** Whether `text` is a CID of any kind (a driver's own hash, as IPFS gives for old objects). */
export function isCid(text: string): boolean {
  return cidOf(text) !== undefined
}

function cidOf(text: string): CID | undefined {
  if (text.length > MAX_REF_LENGTH || !/^[a-zA-Z0-9]+$/.test(text)) return undefined
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/**
 * One spelling for a CID of any kind: the SHA-256 hex that a raw sha2-256 CIDv1 names, else the CIDv1 in base32
 * (as the IPFS driver lists its objects: a `Qm…` CIDv0 and a `z…` base58 CIDv1 name the same object); undefined if
 * `text` is no CID.
 */
export function canonicalRef(text: string): string | undefined {
  const cid = cidOf(text)
  if (cid === undefined) return undefined
  if (cid.version === 1 && cid.code === RAW_CODEC && cid.multihash.code === SHA2_256 && cid.multihash.size === 32)
    return Buffer.from(cid.multihash.digest).toString('hex')
  return cid.toV1().toString(base32)
}

/** CIDv1 (raw, sha2-256) in base32 for a SHA-256 hex digest. */
export function sha256ToCid(sha256: string): string {
  return CID.createV1(RAW_CODEC, createDigest(SHA2_256, Buffer.from(sha256, 'hex'))).toString(base32)
}
