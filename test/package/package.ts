/**
 * The built package as an application installs it: a folder with `node_modules/sai-image-storage`
 * (and any other package it names) linked in. PACKAGE_UNDER_TEST names another build of the
 * package (an older commit's checkout, built) to show which tests fail on it.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT } from '../infra/helpers/consumer.js'
import { tempDir } from '../infra/helpers/tmp.js'

export const PACKAGE = process.env.PACKAGE_UNDER_TEST ?? ROOT

/** Every entry point, as package.json "exports" names it (docs/development.md has the table). */
export const ENTRY_POINTS = [
  '.',
  './drivers/fs',
  './drivers/memory',
  './drivers/s3',
  './drivers/ipfs',
  './replication',
  './retention',
  './jobs',
  './variants',
  './dashboard',
  './testing',
  './adapter'
]

/**
 * An application folder with the package and `dependencies` (from this checkout's node_modules) installed, and `files`
 * written.
 */
export async function application(files: Record<string, string>, dependencies: string[] = []): Promise<string> {
  const app = await tempDir('sai-app')
  await mkdir(join(app, 'node_modules'))
  await symlink(PACKAGE, join(app, 'node_modules', 'sai-image-storage'))
  for (const name of dependencies) await symlink(join(ROOT, 'node_modules', name), join(app, 'node_modules', name))
  for (const [name, text] of Object.entries(files)) await writeFile(join(app, name), text)
  return app
}
