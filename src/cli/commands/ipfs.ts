import { plural, storeLine, UsageError, type Context } from '../context.js'

export async function ipfsReindex(cli: Context): Promise<number> {
  const store = await cli.storageFor(cli.string('driver') ?? 'ipfs')
  if (store.reindex === undefined)
    throw new UsageError(`ipfs-reindex works on drivers with an index of their own (ipfs); this one is ${store.driver}`)
  const report = await store.reindex({ signal: cli.stopSignal() })
  cli.out(
    `${plural(report.indexed, 'pin')} indexed, ${report.alreadyIndexed} already indexed, ` +
      `${plural(report.unpinnedEntries.length, 'entry', 'entries')} without a pin` +
      report.unpinnedEntries.map(e => `\n  ${e.sha256} -> ${e.cid} (not pinned)`).join('') +
      `\n${storeLine(store)}`,
    { command: 'ipfs-reindex', ...report, store: store.location }
  )
  return report.unpinnedEntries.length > 0 ? 1 : 0
}
