/**
 * `--exclude` patterns, as rsync and .gitignore read them: `*` and `?` within a name, `**` across
 * folders; a pattern without `/` matches the name at any depth (`*.txt`, `.DS_Store`), one with
 * `/` the path from the imported folder (`thumbs/**`).
 */
export function globMatcher(patterns: string[]): (path: string) => boolean {
  const tests = patterns.map(pattern => {
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
    const regex = new RegExp(`^${source}(?:/.*)?$`)
    return anchored
      ? (path: string) => regex.test(path)
      : (path: string) => path.split('/').some(name => regex.test(name))
  })
  return path => tests.some(test => test(path))
}
