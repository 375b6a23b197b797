// One server of the HTTP bench, in its own process so that its peak RSS is its own:
//   node bench/http-server.mjs bare|ours ROOT
// bare: the object's file read whole and sent (readFile + end), what a hand-written server does;
// ours: createImageHandler on node:http with its defaults. Prints the port.
import { readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { FilesystemDriver } from '../dist/drivers/fs.js'
import { createImageHandler } from '../dist/index.js'

const [mode, root] = process.argv.slice(2)
let handler
if (mode === 'ours') {
  handler = createImageHandler(new FilesystemDriver({ root }))
} else {
  const paths = new Map()
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.jpg'))
      paths.set(entry.name.slice(0, 64), join(entry.parentPath ?? entry.path, entry.name))
  }
  handler = (req, res) => {
    const path = paths.get(req.url.slice(req.url.lastIndexOf('/') + 1))
    if (path === undefined) return res.writeHead(404).end()
    readFile(path).then(
      bytes => {
        res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': bytes.length }).end(bytes)
      },
      () => res.writeHead(500).end()
    )
  }
}
const server = createServer(handler)
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
// exits cleanly: --cpu-prof writes its profile
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0))
