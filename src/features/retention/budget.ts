/**
 * Where a byte budget cuts, in bounded memory: the walk counts bytes per slice of time (an hour at
 * first); the slice where the oldest bytes to delete end is the cut. Objects older than the cut
 * go, and the cut's own objects are sorted and taken oldest first. A cut slice with too many
 * objects to hold (an import gives a million objects one hour) is cut again, finer, in another
 * pass over the spill file (spill.ts), down to a millisecond.
 */

/** Objects of the cut slice held at once; a fuller slice is cut finer. */
export const MAX_HELD = 50_000
const FIRST_SLICE_MS = 3_600_000
const SLICES = 1000

export interface Cut {
  /** Objects last stored before this go. */
  before: number
  /** Objects in [before, end) are sorted, and the oldest go until `bytes` are freed. */
  end: number
  bytes: number
}

/** Bytes and objects per slice of time, for one pass. */
export class Histogram {
  private readonly slices = new Map<number, { count: number; bytes: number }>()

  /** Slices of `width` ms from `from` on (the first pass: hours since the epoch). */
  constructor(
    readonly from = 0,
    readonly width = FIRST_SLICE_MS,
    readonly to = Infinity
  ) {}

  add(time: number, size: number): void {
    if (time < this.from || time >= this.to) return
    const slice = Math.floor((time - this.from) / this.width)
    const counted = this.slices.get(slice)
    if (counted === undefined) this.slices.set(slice, { count: 1, bytes: size })
    else {
      counted.count++
      counted.bytes += size
    }
  }

  /**
   * Where `excess` bytes (of the oldest objects in range) end: the objects before the slice go
   * whole, and `bytes` more of the slice's own. `held` is how many objects that slice has.
   */
  cut(excess: number): Cut & { held: number } {
    let freed = 0
    for (const slice of [...this.slices.keys()].sort((a, b) => a - b)) {
      const { count, bytes } = this.slices.get(slice)!
      const before = this.from + slice * this.width
      if (freed + bytes >= excess) return { before, end: before + this.width, bytes: excess - freed, held: count }
      freed += bytes
    }
    return { before: this.to, end: this.to, bytes: 0, held: 0 }
  }

  /** A finer histogram of the cut's slice, for the next pass; undefined if it cannot be finer. */
  finer(cut: Cut): Histogram | undefined {
    if (this.width <= 1) return undefined
    return new Histogram(cut.before, Math.max(1, Math.ceil(this.width / SLICES)), cut.end)
  }
}
