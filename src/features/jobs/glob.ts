/**
 * `--exclude` patterns, as rsync and .gitignore read them: `*` and `?` within a name, `**` across
 * folders; a pattern without `/` matches the name at any depth (`*.txt`, `.DS_Store`), one with
 * `/` the path from the imported folder (`thumbs/**`); a trailing `/` matches folders only, a name
 * alone at any depth (`thumbs/`), and everything below them.
 */
export function globMatcher(patterns: string[]): (path: string) => boolean {
  const tests = patterns.map(given => {
    const folder = given.endsWith('/')
    const pattern = given.replace(/\/+$/, '')
    const anchored = pattern.includes('/')
    const source = pattern
      .replace(/^\//, '')
      .split(/(\*\*\/|\*\*|\*|\?)/)
      .map(part =>
        part === '**/'
          ? '(?:.*/)?'
          : part === '**'
            ? '.*'
            : part === '*'
              ? '[^/]*'
              : part === '?'
                ? '[^/]'
                : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')
      )
      .join('')
    const regex = new RegExp(`^${source}${folder ? '/.*' : '(?:/.*)?'}$`)
    const name = new RegExp(`^${source}$`)
    // a folder pattern never names the file itself: only the folders on its path
    return anchored
      ? (path: string) => regex.test(path)
      : (path: string) => (folder ? path.split('/').slice(0, -1) : path.split('/')).some(n => name.test(n))
  })
  return path => tests.some(test => test(path))
}
