/**
 * A store of a stream: its name is known only at its end, so its bytes go to a temp in `{root}/.tmp` (on the same
 * filesystem) as they arrive, hashed on the way; the temp is then committed as any store's (store.ts).
 */
import { ImageHasher, type Digest } from '../../core/hashing.js'
import { hashFile } from './read.js'
import { type Check, type FrameStore, futimesAsync, type StoreCall, type Stored, writeAll } from './store.js'
import { writeTemp } from './write.js'

export async function storeChunks(
  frames: FrameStore,
  chunks: AsyncIterable<Uint8Array>,
  { limits, signal, mtime }: StoreCall
): Promise<Stored> {
  const hasher = new ImageHasher(limits)
  let digest!: Digest
  const temp = await writeTemp(
    frames.context,
    undefined,
    async fd => {
      let position = 0
      for await (const chunk of chunks) {
        signal?.throwIfAborted()
        hasher.update(chunk)
        await writeAll(fd, chunk, position)
        position += chunk.byteLength
      }
      digest = hasher.digest()
      if (mtime !== undefined) await futimesAsync(fd, mtime, mtime)
    },
    { keptTimes: mtime !== undefined }
  )
  const sameHash: Check = async fd => (await hashFile(fd, signal)) === digest.sha256
  return await frames.commit(temp, digest, frames.place(digest), sameHash, signal)
}
