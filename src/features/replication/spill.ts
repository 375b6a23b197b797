/** A verify pass's findings, spilled to files as they come: memory stays bounded at any count. */
import { createReadStream, createWriteStream, existsSync, readdirSync, rmSync, type WriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { FindingReason } from '../../core/verify-report.js'
import { StateLayout } from './layout.js'
import { alive } from '../../core/process-identity.js'

/** Findings written to files as they come (`<sha256> <reason>` lines), read back once the pass is over. */
export class Spill {
  readonly counts: number[]
  private readonly files: WriteStream[]
  private readonly paths: string[]

  /**
   * In the state folder, made if need be; or, unless `makeState`, where it is not there, in a temporary folder
   * (`aside`, removed with the files): a verify without repair makes nothing on a root that may be no store.
   */
  static async open(layout: StateLayout, n: number, makeState: boolean): Promise<Spill> {
    if (makeState || existsSync(layout.dir)) {
      await mkdir(layout.dir, { recursive: true })
      return new Spill(layout, n)
    }
    return new Spill(new StateLayout(await mkdtemp(join(tmpdir(), 'sai-verify-'))), n, true)
  }

  constructor(
    private readonly layout: StateLayout,
    n: number,
    readonly aside = false
  ) {
    removeStale(layout.dir)
    const tag = `${process.pid}-${Date.now()}`
    this.paths = Array.from({ length: n }, (_, i) => layout.spill(tag, i))
    this.files = this.paths.map(path => createWriteStream(path))
    this.counts = this.paths.map(() => 0)
  }

  /** `reason`: why, or (the verify's list of frames below their copies) how many copies they lack. */
  async add(i: number, sha256: string, reason: FindingReason | number): Promise<void> {
    this.counts[i]!++
    if (!this.files[i]!.write(`${sha256} ${reason}\n`)) await once(this.files[i]!, 'drain')
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map(async file => await new Promise(resolve => file.end(resolve))))
  }

  async *read(i: number): AsyncGenerator<{ sha256: string; reason: FindingReason }> {
    for await (const line of createInterface({ input: createReadStream(this.paths[i]!), crlfDelay: Infinity })) {
      const [sha256, reason] = line.split(' ')
      if (sha256 !== undefined && reason !== undefined) yield { sha256, reason: reason as FindingReason }
    }
  }

  async remove(): Promise<void> {
    await Promise.all(this.paths.map(async path => await rm(path, { force: true })))
    if (this.aside) await rm(this.layout.dir, { recursive: true, force: true })
  }
}

/** The spill files of a verify whose process is gone (killed, or a power cut): nothing else would remove them. */
function removeStale(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch {} // (no state folder yet: nothing left)
  for (const name of names) {
    const pid = /^verify-(\d+)-\d+-\d+\.tmp$/.exec(name)?.[1]
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(dir, name), { force: true })
  }
}
