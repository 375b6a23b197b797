/** What names an object on the IPFS driver: any sha2-256 CID of raw or dag-pb data, or a SHA-256 hex. */
import { CID } from 'multiformats/cid'
import { InvalidRefError } from '../../core/errors.js'
import { asSha256, RAW_CODEC, SHA2_256, sha256ToCid } from '../../core/ref.js'
import { canonicalCid } from './cid.js'

const DAG_PB_CODEC = 0x70

export function parseIpfsRef(ref: unknown): { cid: string; fromSha256: boolean } {
  const sha256 = typeof ref === 'string' ? asSha256(ref) : undefined
  if (sha256 !== undefined) return { cid: sha256ToCid(sha256), fromSha256: true }
  if (typeof ref !== 'string' || !/^[a-zA-Z0-9]{1,200}$/.test(ref))
    throw new InvalidRefError(ref, 'expected a CID or a 64-character SHA-256 hex digest')
  let cid: CID
  try {
    cid = CID.parse(ref)
  } catch {
    throw new InvalidRefError(ref, 'not a CID')
  }
  if ((cid.code !== RAW_CODEC && cid.code !== DAG_PB_CODEC) || cid.multihash.code !== SHA2_256) {
    throw new InvalidRefError(ref, 'only sha2-256 CIDs of raw or dag-pb data name images')
  }
  return { cid: canonicalCid(cid), fromSha256: false }
}

/** The SHA-256 of the bytes, where the CID holds it: a raw CID. */
export function sha256Of(cid: string): string | undefined {
  const parsed = CID.parse(cid)
  return parsed.code === RAW_CODEC ? Buffer.from(parsed.multihash.digest).toString('hex') : undefined
}
