import type { StorageResult } from './types.js'

/**
 * The two fields the inference service adds to its response: `image_hash` is always the SHA-256
 * hex of the bytes (the dashboard accepts exactly 64 hex characters), whatever the driver's own
 * address; `image_path` is the driver's path (absolute on fs, `ipfs://<cid>` on IPFS).
 */
export function toInferenceFields(result: Pick<StorageResult, 'sha256' | 'path' | 'url'>): {
  image_hash: string
  image_path: string
} {
  return { image_hash: result.sha256, image_path: result.url ?? result.path }
}
