import { forEachConcurrent } from '../../core/concurrency.js'
import { plural, type Command } from '../context.js'

export const stats: Command = {
  name: 'stats',
  usage: 'stats',
  summary: 'objects, bytes, and counts by type',
  async run (cli) {
    const store = cli.storage()
    const byType: Record<string, { objects: number, bytes: number }> = {}
    let objects = 0
    let bytes = 0
    await forEachConcurrent(store.list(), cli.concurrency(), async entry => {
      const { size, mimeType } = await store.stat(entry.sha256 ?? entry.hash) // by SHA-256 where known: no read of a large IPFS object
      objects++
      bytes += size
      byType[mimeType] ??= { objects: 0, bytes: 0 }
      byType[mimeType].objects++
      byType[mimeType].bytes += size
    })
    cli.out(`${plural(objects, 'object')}, ${bytes} bytes` + Object.entries(byType).map(([type, t]) => `\n  ${type.padEnd(26)} ${plural(t.objects, 'object')}, ${t.bytes} bytes`).join(''), { objects, bytes, byType })
    return 0
  }
}
