import { plural, storeLine, UsageError, type Command } from '../context.js'

export const ipfsReindex: Command = {
  name: 'ipfs-reindex',
  usage: 'ipfs-reindex',
  summary: 'index IPFS pins stored before the SHA-256 index',
  help:
    'Each pin without an entry is fetched, verified against its CID and hashed, then indexed under\n' +
    "{SAI_IPFS_INDEX_PATH}/ab/cd/<sha256> in the node's MFS. Entries whose object is not pinned are\n" +
    'listed, not removed (exit 1). Safe to rerun and to stop with Ctrl-C.',
  async run(cli) {
    const store = await cli.storageFor(cli.string('driver') ?? 'ipfs')
    if (store.reindex === undefined)
      throw new UsageError(
        `ipfs-reindex works on drivers with an index of their own (ipfs); this one is ${store.driver}`
      )
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
}
