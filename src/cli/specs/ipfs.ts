/** What the parser and the help know at start; the work (commands/ipfs.ts) loads when the command runs. */
import type { Command } from '../context.js'

export const ipfsReindex: Command = {
  name: 'ipfs-reindex',
  usage: 'ipfs-reindex',
  summary: 'index IPFS pins stored before the SHA-256 index',
  help:
    'Each pin without an entry is fetched, verified against its CID and hashed, then indexed under\n' +
    "{SAI_IPFS_INDEX_PATH}/ab/cd/<sha256> in the node's MFS. Entries whose object is not pinned are\n" +
    'listed, not removed (exit 1). Safe to rerun and to stop with Ctrl-C.',
  run: async cli => await (await import('../commands/index.js')).ipfsReindex(cli)
}
