/**
 * The items a mapping records, each with the hash of its object on the target: what a rerun passes
 * over. Exact, since a new item taken for a recorded one would never be copied, and small, since a
 * mapping that cron reruns grows by every frame for years: an id that is a SHA-256 (a migrate from a
 * store addressed by it) is held as its 32 bytes in one array, found through an open-addressed table
 * of 4-byte slots keyed by its first bytes, with its hash only where that is another name: about 42 MB
 * a million, where a Map of the strings took 110. Any other id (an import's paths, a CID) is kept as
 * a string, with its hash in 32 bytes where that is a SHA-256. A record read again (a frame copied
 * again) replaces the one before.
 */
import type { CompactNames } from '../../core/compact-names.js'

/** A SHA-256 in 32-bit words, each of 8 hex digits. */
const WORDS = 8

export class RecordedItems {
  private keys = new Int32Array(WORDS * 1024)
  private count = 0
  /** Record number + 1 in each used slot; at most half of them used. */
  private slots = new Uint32Array(2048)
  /** A record's hash where it is not its id (a target addressed otherwise, such as IPFS). */
  private readonly hashes = new Map<number, string>()
  /** Records whose object the target no longer holds (few, as a rule). */
  private readonly forgotten = new Set<number>()
  /** Any other id (an import's path, a CID): its hash's number in `otherHashes` if a SHA-256, else the hash. */
  private readonly others = new Map<string, number | string>()
  private otherHashes = new Int32Array(WORDS * 1024)
  private otherCount = 0
  /** The id asked about, as words. */
  private readonly scratch = new Int32Array(WORDS)

  get size(): number {
    return this.count - this.forgotten.size + this.others.size
  }

  set(id: string, hash: string): void {
    if (!this.packable(id)) {
      this.setOther(id, hash)
      return
    }
    const slot = this.probe()
    let record = this.slots[slot]! - 1
    if (record < 0) {
      record = this.count++
      this.keys = roomFor(this.keys, this.count)
      this.keys.set(this.scratch, record * WORDS)
      this.slots[slot] = record + 1
      if (this.count * 2 > this.slots.length) this.rehash()
    } else this.forgotten.delete(record)
    if (hash === id) this.hashes.delete(record)
    else this.hashes.set(record, hash)
  }

  has(id: string): boolean {
    if (!this.packable(id)) return this.others.has(id)
    const record = this.slots[this.probe()]! - 1
    return record >= 0 && !this.forgotten.has(record)
  }

  /** Forgets every record whose object `there` (the target's listing) does not hold: how many. */
  forgetAbsent(there: CompactNames): number {
    const before = this.size
    for (let record = 0; record < this.count; record++) {
      if (this.forgotten.has(record)) continue
      const hash = this.hashes.get(record)
      const at = record * WORDS
      if (hash === undefined ? there.hasSha256Words(this.keys[at]!, this.keys[at + 1]!) : there.has(hash)) continue
      this.forgotten.add(record)
    }
    for (const [id, hash] of this.others) {
      const at = typeof hash === 'number' ? hash * WORDS : -1
      if (at < 0 ? there.has(hash as string) : there.hasSha256Words(this.otherHashes[at]!, this.otherHashes[at + 1]!))
        continue
      this.others.delete(id)
    }
    return before - this.size
  }

  private setOther(id: string, hash: string): void {
    if (!this.packable(hash)) {
      this.others.set(id, hash)
      return
    }
    let number = this.others.get(id)
    if (typeof number !== 'number') {
      number = this.otherCount++
      this.otherHashes = roomFor(this.otherHashes, this.otherCount)
      this.others.set(id, number)
    }
    this.otherHashes.set(this.scratch, number * WORDS)
  }

  /**
   * Whether `id` is a SHA-256 in lower case (kept as its bytes, spelled back the same); if so, its words in `scratch`.
   * Read here, not by `Buffer.write`: one pass over the characters, where checking them and then writing took two.
   */
  private packable(id: string): boolean {
    if (id.length !== 64) return false
    for (let word = 0; word < WORDS; word++) {
      let value = 0
      for (let i = word * 8; i < word * 8 + 8; i++) {
        const c = id.charCodeAt(i)
        const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1
        if (digit < 0) return false
        value = (value << 4) | digit
      }
      this.scratch[word] = value
    }
    return true
  }

  /** The slot of the id in `scratch`: its record's, or the empty one where it would go. */
  private probe(): number {
    const { keys, scratch } = this
    const mask = this.slots.length - 1
    for (let slot = scratch[0]! & mask; ; slot = (slot + 1) & mask) {
      const record = this.slots[slot]! - 1
      if (record < 0) return slot
      let at = record * WORDS
      let word = 0
      while (word < WORDS && keys[at++] === scratch[word]) word++
      if (word === WORDS) return slot
    }
  }

  private rehash(): void {
    const slots = new Uint32Array(this.slots.length * 2)
    const mask = slots.length - 1
    for (let record = 0; record < this.count; record++) {
      let slot = this.keys[record * WORDS]! & mask
      while (slots[slot] !== 0) slot = (slot + 1) & mask
      slots[slot] = record + 1
    }
    this.slots = slots
  }
}

/** `words`, or a copy twice its length where `records` SHA-256s do not fit. */
function roomFor(words: Int32Array<ArrayBuffer>, records: number): Int32Array<ArrayBuffer> {
  if (records * WORDS <= words.length) return words
  const bigger = new Int32Array(words.length * 2)
  bigger.set(words)
  return bigger
}
