/**
 * What a child process loads: a module for its `--import` that registers a resolve hook appending every file it
 * resolves (its URL, a line each) to the file named by $SAI_LOADED_LIST.
 */
import { existsSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Writes the hook into `dir`; the URL to pass to the child's `--import`. */
export async function loadRecorder(dir: string): Promise<string> {
  await writeFile(
    join(dir, 'hooks.mjs'),
    "import { appendFileSync } from 'node:fs'\n" +
      'export async function resolve(specifier, context, next) {\n' +
      '  const resolved = await next(specifier, context)\n' +
      "  if (resolved.url.startsWith('file:')) appendFileSync(process.env.SAI_LOADED_LIST, resolved.url + '\\n')\n" +
      '  return resolved\n' +
      '}\n'
  )
  const register = join(dir, 'register.mjs')
  await writeFile(register, "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n")
  return pathToFileURL(register).href
}

/** The file URLs a child recorded in `list`, each once (none if it loaded nothing it records). */
export function recordedLoads(list: string): string[] {
  if (!existsSync(list)) return []
  return [...new Set(readFileSync(list, 'utf8').split('\n'))].filter(url => url !== '')
}
