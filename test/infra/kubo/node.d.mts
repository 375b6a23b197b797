export interface KuboNodeOptions {
  binary?: string
  /** More `ipfs init` profiles, e.g. `unixfs-v1-2025`. */
  profiles?: string[]
  /** The flatfs mount's `sync`. */
  flatfsSync?: boolean
  /** `ipfs daemon --offline`. */
  offline?: boolean
  /** Any other edit of the config before the first start. */
  config?: (config: any) => any
  /** A plain `ipfs init`, without the isolation (for a test that shows what it prevents). */
  defaults?: boolean
  /** A prefix for the daemon's command, e.g. strace's. */
  command?: string[]
}

export interface KuboNode {
  binary: string
  repo: string
  url: string
  gatewayUrl: string
  pid: number
  log: string
  config: () => Promise<any>
  restart: () => Promise<void>
  /** `kill -9`, `whileDown`, then a start on the same repo and ports. */
  crash: (whileDown?: () => Promise<unknown>) => Promise<void>
  stop: () => Promise<void>
}

export function startKubo(options?: KuboNodeOptions): Promise<KuboNode>
export function isolate(config: any): any
export function flatfsMount(config: any): { type: 'flatfs'; sync: boolean; path: string }
