// The built package under test: `pkg` is a folder with the package's dist/ (the repo, or a broken copy).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export async function loadLib (pkg) {
  const load = async file => await import(pathToFileURL(join(pkg, 'dist', file)).href)
  const entries = await Promise.all(['index.js', 'drivers/fs.js', 'replication.js', 'retention.js'].map(load))
  return { ...Object.assign({}, ...entries), testing: await load('testing.js') }
}
