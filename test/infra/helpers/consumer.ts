import { copyFile, mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from './tmp.js'

export const ROOT = new URL('../../..', import.meta.url).pathname
const FIXTURES = join(ROOT, 'test/infra/fixtures/consumers')

/** An application folder that has the built package in node_modules, as npm would install it. */
export async function consumerApp(files: string[]): Promise<string> {
  const app = await tempDir('sai-consumer')
  await mkdir(join(app, 'node_modules'))
  await symlink(ROOT, join(app, 'node_modules', 'sai-image-storage'))
  for (const file of files) await copyFile(join(FIXTURES, file), join(app, file))
  return app
}
