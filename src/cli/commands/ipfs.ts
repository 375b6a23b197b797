import { IpfsDriver } from '../../../drivers/ipfs/index.js'
import { plural, UsageError, type Command } from '../context.js'

export const ipfsReindex: Command = {
  name: 'ipfs-reindex',
  usage: 'ipfs-reindex',
  summary: 'add the SHA-256 index entries that IPFS pins stored before the index lack',
  help: 'Each pin without an entry is fetched, verified against its CID and hashed, then indexed under\n' +
    '{SAI_IPFS_INDEX_PATH}/ab/cd/<sha256> in the node\'s MFS. Entries whose object is not pinned are listed,\n' +
    'not removed (exit 1). Safe to rerun and to stop with Ctrl-C.',
  async run (cli) {
    const store = cli.storageFor(cli.string('driver') ?? 'ipfs')
    if (!(store instanceof IpfsDriver)) throw new UsageError('ipfs-reindex works on the IPFS driver')
    const report = await store.reindex({ signal: cli.stopSignal() })
    cli.out(`${plural(report.indexed, 'pin')} indexed, ${report.alreadyIndexed} already indexed, ${plural(report.unpinnedEntries.length, 'entry', 'entries')} without a pin` +
      report.unpinnedEntries.map(e => `\n  ${e.sha256} -> ${e.cid} (not pinned)`).join(''), { command: 'ipfs-reindex', ...report })
    return report.unpinnedEntries.length > 0 ? 1 : 0
  }
}
