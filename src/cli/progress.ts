/**
 * A one-line progress bar on stderr: count, rate, and where the total is known the share done and
 * an ETA (a count and rate alone until then); the caller enables it on a terminal only.
 */
export class Progress {
  private readonly started = Date.now()
  private timer?: NodeJS.Timeout
  done = 0

  constructor(
    private readonly label: string,
    private total: number,
    private readonly enabled: boolean
  ) {
    if (enabled)
      this.timer = setInterval(() => {
        this.draw()
      }, 200)
  }

  tick(): void {
    this.done++
  }

  set(done: number, total = this.total): void {
    this.done = done
    this.total = total
  }

  /**
   * Counts `items` beside the work (a listing of names, cheap next to reading every object): the
   * total, and the ETA, are shown once the count ends. Only on a terminal; a failed count shows none.
   */
  countTotal<T>(items: () => AsyncIterable<T>, counts: (item: T) => boolean = () => true): void {
    if (!this.enabled) return
    void (async () => {
      let total = 0
      for await (const item of items()) {
        if (this.timer === undefined) return
        if (counts(item)) total++
      }
      this.total = Math.max(total, this.done)
    })().catch(() => {})
  }

  stop(): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    this.draw()
    process.stderr.write('\n')
  }

  private draw(): void {
    const seconds = (Date.now() - this.started) / 1000
    const rate = this.done / Math.max(seconds, 0.001)
    if (this.total === 0) {
      process.stderr.write(`\r${this.label} ${this.done} ${rate.toFixed(0)}/s  `)
      return
    }
    const share = Math.min(1, this.done / this.total)
    const bar = '#'.repeat(Math.round(share * 30)).padEnd(30, '.')
    const eta = rate > 0 ? formatEta(Math.max(0, this.total - this.done) / rate) : '?'
    process.stderr.write(
      `\r${this.label} [${bar}] ${this.done}/${this.total} ${(share * 100).toFixed(0)}% ` +
        `${rate.toFixed(0)}/s ETA ${eta}  `
    )
  }
}

/** 45s, 12m 05s, 3h 20m, 2d 04h: the two largest units, rounded up. */
export function formatEta(seconds: number): string {
  const s = Math.ceil(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  const minutes = Math.ceil(s / 60)
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, '0')}m`
  const hours = Math.ceil(s / 3600)
  return `${Math.floor(hours / 24)}d ${String(hours % 24).padStart(2, '0')}h`
}
