// The built package under test: `pkg` is a folder with the package's dist/ (the repo, or a broken copy).
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export async function loadLib (pkg) {
  const index = await import(pathToFileURL(join(pkg, 'dist/index.js')).href)
  const testing = await import(pathToFileURL(join(pkg, 'dist/testing.js')).href)
  return { ...index, testing }
}
