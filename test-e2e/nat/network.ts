// The lab's network, made of Linux network namespaces, veth pairs, bridges and nftables (root only):
//
//   <prefix>pub       the "public internet": a bridge br0 on 198.18.0.0/24 holding the server addresses
//                     198.18.0.1 (serverAddress) and 198.18.0.2 (secondServerAddress). Servers (relay, STUN,
//                     coturn, static pages) run INSIDE this namespace (lab.spawn('pub', ...)). It does not
//                     forward (ip_forward=0), so it is the end of every route.
//   <prefix>r-<lan>   one NAT router per LAN: WAN veth "wan" on br0 with its own public address 198.18.0.10+,
//                     a bridge "lan" 198.19.<n>.1/24, nftables masquerade on "wan", ip_forward=1.
//   <prefix>h-<host>  one namespace per host: eth0 198.19.<n>.2+ behind its router (default route via it),
//                     or, with nat 'none', eth0 directly on br0 with a public 198.18.0.10+ address.
//
// Every veth has both ends in lab namespaces, none in the root namespace: nothing a test does in the lab can
// leave it, and parallel labs never collide on interface names.
//
// IPv6 is disabled in every lab namespace, so nothing bypasses the IPv4 NAT over link-local addresses.
import { IP, run } from './namespaces.ts'
import { natRules } from './router.ts'
import type { NatKind } from './router.ts'

export interface HostOptions {
  nat: NatKind
  /**
   * Name of the LAN (and so of the router) the host joins; hosts naming the same LAN share one router and
   * reach each other on their private addresses. Default: a LAN of its own, named after the host.
   */
  lan?: string
  /**
   * What the router does with an unsolicited packet to its own WAN address (one that matches no mapping).
   * 'accept' (default): its own stack takes it (ICMP port unreachable), and conntrack keeps an entry for it, so
   * a later flow from a LAN host to that sender cannot have the mapped port that entry already uses: masquerade
   * picks another (see nat-lab.spec.ts). 'drop': its input firewall drops it, as home routers' do (OpenWrt's wan
   * zone rejects input), before conntrack keeps anything, so the host's mapping stays the same for every
   * destination. Hosts sharing a LAN must agree on it, as on `nat`.
   */
  unsolicited?: 'accept' | 'drop'
  signal?: AbortSignal
}

export interface Host {
  name: string
  nat: NatKind
  /** the host's network namespace */
  namespace: string
  /** the host's own address: private (198.19.n.x) behind a router, public (198.18.0.x) with nat 'none' */
  address: string
  /** the address servers see it come from: its router's WAN address, or its own with nat 'none' */
  publicAddress: string
  /** the LAN it sits on (undefined with nat 'none') */
  lan?: string
  /** its router's namespace (undefined with nat 'none') */
  routerNamespace?: string
}

const NAME = /^[a-z0-9][a-z0-9_]{0,15}$/i
const PUBLIC_NET = '198.18.0'
export const SERVER_ADDRESS = `${PUBLIC_NET}.1`
export const SECOND_SERVER_ADDRESS = `${PUBLIC_NET}.2`

interface Router { lan: string, nat: NatKind, unsolicited: 'accept' | 'drop', namespace: string, publicAddress: string, subnet: number, hosts: number, ready: Promise<void> }

/** The namespaces of one lab and how they are wired: the public segment, routers and hosts */
export class LabNetwork {
  /** the public namespace, where servers run */
  readonly publicNamespace: string
  readonly hosts = new Map<string, Host>()
  /** every namespace made, in order (close() deletes them in reverse) */
  readonly namespaces: string[] = []
  private readonly routers = new Map<string, Router>()
  private nextPublic = 10
  private nextSubnet = 1

  constructor (private readonly prefix: string) {
    this.publicNamespace = `${prefix}pub`
  }

  /** Makes the public namespace: its bridge with the server addresses */
  async setup (signal?: AbortSignal): Promise<void> {
    const pub = this.publicNamespace
    await this.addNamespace(pub, false, signal)
    await this.ip(['-n', pub, 'link', 'add', 'br0', 'type', 'bridge'], signal)
    await this.ip(['-n', pub, 'addr', 'add', `${SERVER_ADDRESS}/24`, 'dev', 'br0'], signal)
    await this.ip(['-n', pub, 'addr', 'add', `${SECOND_SERVER_ADDRESS}/24`, 'dev', 'br0'], signal)
    await this.ip(['-n', pub, 'link', 'set', 'br0', 'up'], signal)
  }

  /** Adds a host behind its own router (or a shared one: `lan`), or directly on the public segment ('none') */
  async addHost (name: string, opts: HostOptions): Promise<Host> {
    const signal = opts.signal
    if (!NAME.test(name) || name === 'pub') throw new Error(`bad host name ${JSON.stringify(name)}: letters, digits, _ (max 16), not "pub"`)
    if (this.hosts.has(name)) throw new Error(`host ${name} exists`)
    const ns = `${this.prefix}h-${name}`
    if (opts.nat === 'none') {
      if (opts.lan != null) throw new Error("nat 'none' puts the host on the public segment: no lan")
      const address = this.allocatePublic()
      const host: Host = { name, nat: 'none', namespace: ns, address, publicAddress: address }
      this.hosts.set(name, host)
      await this.addNamespace(ns, false, signal)
      await this.plugIntoPublic(ns, 'eth0', address, signal)
      await this.ip(['-n', ns, 'route', 'add', 'default', 'via', SERVER_ADDRESS], signal)
      return host
    }
    const lanName = opts.lan ?? name
    if (!NAME.test(lanName)) throw new Error(`bad lan name ${JSON.stringify(lanName)}`)
    let router = this.routers.get(lanName)
    if (router == null) {
      router = {
        lan: lanName,
        nat: opts.nat,
        unsolicited: opts.unsolicited ?? 'accept',
        namespace: `${this.prefix}r-${lanName}`,
        publicAddress: this.allocatePublic(),
        subnet: this.nextSubnet++,
        hosts: 0,
        ready: Promise.resolve()
      }
      if (router.subnet > 254) throw new Error('too many LANs')
      this.routers.set(lanName, router)
      router.ready = this.makeRouter(router, signal)
    } else if (opts.lan == null) {
      throw new Error(`a LAN named ${lanName} exists: pass lan: '${lanName}' to join it`)
    } else if (router.nat !== opts.nat) {
      throw new Error(`LAN ${lanName} is behind a '${router.nat}' router, not '${opts.nat}'`)
    } else if (router.unsolicited !== (opts.unsolicited ?? 'accept')) {
      throw new Error(`LAN ${lanName}'s router has unsolicited: '${router.unsolicited}'`)
    }
    const index = router.hosts++
    if (index > 200) throw new Error('too many hosts on one LAN')
    const address = `198.19.${router.subnet}.${index + 2}`
    const host: Host = { name, nat: opts.nat, namespace: ns, address, publicAddress: router.publicAddress, lan: lanName, routerNamespace: router.namespace }
    this.hosts.set(name, host)
    await router.ready
    await this.addNamespace(ns, false, signal)
    await this.ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `h${index}`, 'netns', router.namespace], signal)
    await this.ip(['-n', router.namespace, 'link', 'set', `h${index}`, 'master', 'lan', 'up'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], signal)
    await this.ip(['-n', ns, 'link', 'set', 'eth0', 'up'], signal)
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', `198.19.${router.subnet}.1`], signal)
    return host
  }

  /** The namespace of a target: a host's name, 'pub' for the public namespace, or 'router:<lan>' */
  namespaceOf (target: string): string {
    if (target === 'pub') return this.publicNamespace
    if (target.startsWith('router:')) {
      const r = this.routers.get(target.slice(7))
      if (r == null) throw new Error(`no LAN ${target.slice(7)}`)
      return r.namespace
    }
    const h = this.hosts.get(target)
    if (h == null) throw new Error(`no host ${target}`)
    return h.namespace
  }

  private allocatePublic (): string {
    if (this.nextPublic > 250) throw new Error('too many public addresses')
    return `${PUBLIC_NET}.${this.nextPublic++}`
  }

  private async ip (args: string[], signal?: AbortSignal): Promise<void> {
    await run(IP, args, { signal })
  }

  private async addNamespace (ns: string, forward: boolean, signal?: AbortSignal): Promise<void> {
    this.namespaces.push(ns) // recorded first: close() removes it even if the rest fails
    await this.ip(['netns', 'add', ns], signal)
    await this.ip(['-n', ns, 'link', 'set', 'lo', 'up'], signal)
    await run(IP, ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv4.ip_forward=${forward ? 1 : 0}`,
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { signal })
  }

  /** A veth from `ns` (named `ifname`, with `address`) to the public bridge */
  private async plugIntoPublic (ns: string, ifname: string, address: string, signal?: AbortSignal): Promise<void> {
    const peer = `w${address.split('.')[3]}`
    await this.ip(['-n', ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', peer, 'netns', this.publicNamespace], signal)
    await this.ip(['-n', this.publicNamespace, 'link', 'set', peer, 'master', 'br0', 'up'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', ifname], signal)
    await this.ip(['-n', ns, 'link', 'set', ifname, 'up'], signal)
  }

  private async makeRouter (r: Router, signal?: AbortSignal): Promise<void> {
    const ns = r.namespace
    await this.addNamespace(ns, true, signal)
    await this.plugIntoPublic(ns, 'wan', r.publicAddress, signal)
    await this.ip(['-n', ns, 'route', 'add', 'default', 'via', SERVER_ADDRESS], signal)
    await this.ip(['-n', ns, 'link', 'add', 'lan', 'type', 'bridge'], signal)
    await this.ip(['-n', ns, 'addr', 'add', `198.19.${r.subnet}.1/24`, 'dev', 'lan'], signal)
    await this.ip(['-n', ns, 'link', 'set', 'lan', 'up'], signal)
    await run(IP, ['netns', 'exec', ns, 'nft', '-f', '-'], { input: natRules(r.nat, r.unsolicited), signal })
  }
}
