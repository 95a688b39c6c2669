// A lab router's nftables: its NAT (how it maps a LAN host's flows) and what it does with unsolicited packets.

export type NatKind = 'cone' | 'symmetric' | 'none' | 'block-udp'

/**
 * The router's nftables. Linux conntrack makes every kind filter inbound traffic by the remote address
 * AND port a LAN host sent to (address-and-port-dependent filtering); mapping is what differs:
 *  - cone: plain masquerade keeps the source port when it can, and reuses one mapping for every
 *    destination (endpoint-independent mapping)
 *  - symmetric: `random,fully-random` draws a new port for every new conntrack entry, so per destination
 *  - block-udp: cone for TCP, and forwarded UDP is dropped both ways (TURN over TCP is what is left)
 * With unsolicited 'drop', new connections to the router itself from the WAN are dropped (HostOptions.unsolicited).
 */
export function natRules (nat: NatKind, unsolicited: 'accept' | 'drop' = 'accept'): string {
  const masquerade = nat === 'symmetric' ? 'masquerade random,fully-random' : 'masquerade'
  return `table ip peerlane_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname != "wan" oifname != "wan" accept
    ${nat === 'block-udp' ? 'meta l4proto udp drop' : ''}
    ct state established,related accept
    iifname "wan" drop
  }${unsolicited === 'drop'
? `
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }`
: ''}
}
`
}
