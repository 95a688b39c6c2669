// The `peerlane-relay --help` text: every flag, with the defaults of config.ts
import { CONNECTION_HEADROOM, DEFAULT_STUN_PORT, DEFAULTS } from './config.ts'

export const USAGE = `Usage: peerlane-relay [options]

Every option is also an env var PEERLANE_RELAY_<NAME> (e.g. PEERLANE_RELAY_HTTP_PORT=9091; lists
comma-separated) and a camelCase key of the JSON file given with --config (e.g. "httpPort": 9091).
Flags win over env vars, which win over the file.

  --config <path>                      JSON config file (env PEERLANE_RELAY_CONFIG)
  --host <ip>                          address to listen on (default ${DEFAULTS.host})
  --port <n>                           WebSocket port, 0 = a free port (default ${DEFAULTS.port})
  --key-file <path>                    relay key, created with mode 0600 on first run (default ${DEFAULTS.keyFile})
  --http-port <n>                      serve /health, /ready and /metrics on this port (default: off)
  --http-host <ip>                     address of that HTTP server, apart from --host (default ${DEFAULTS.httpHost}:
                                       /metrics is for the host and Prometheus; 0.0.0.0 exposes it)
  --announce <multiaddr>               address to advertise instead of the listening ones (repeatable),
                                       e.g. /dns4/relay.example.com/tcp/443/wss behind a TLS proxy
  --addr-file <path>                   write the relay's multiaddrs there as JSON once listening
  --tls-cert <path> --tls-key <path>   serve wss (/tls/ws) itself with this PEM certificate and key
  --peer <multiaddr>                   another relay of the federation, ending in /p2p/<PeerId> (repeatable)
  --trust-proxy <ip>                   a reverse proxy's IP: take the client IP from its X-Forwarded-For
                                       header, so per-IP limits see clients, not the proxy (repeatable)
  --log-level <level>                  debug, info, warn, error or silent (default ${DEFAULTS.logLevel})

NAT traversal (what the relay gives its peers for WebRTC):
  --stun-port <n>                      UDP port of the relay's own STUN server, 0 = off
                                       (default ${DEFAULT_STUN_PORT}; 0 with --turn-url: coturn answers STUN)
  --turn-url <url>                     a coturn url, e.g. turn:turn.example.com:3478?transport=udp (repeatable)
  --turn-secret-file <path>            coturn's static-auth-secret (use-auth-secret), for --turn-url
  --turn-ttl <s>                       lifetime of a peer's TURN credentials (default ${DEFAULTS.turnTtl})

Limits:
  --max-reservations <n>               reservations held at once (default ${DEFAULTS.maxReservations})
  --max-reservations-per-ip <n>        reservations held by one IP or IPv6 /64 (default ${DEFAULTS.maxReservationsPerIp})
  --reservation-ttl <ms>               reservation lifetime before a refresh (default ${DEFAULTS.reservationTtl})
  --circuit-duration <ms>              lifetime of one relayed circuit (default ${DEFAULTS.circuitDuration})
  --circuit-data <bytes>               bytes per circuit, both directions together (default ${DEFAULTS.circuitData})
  --max-circuits-per-peer <n>          circuits open at once from one peer (default ${DEFAULTS.maxCircuitsPerPeer})
  --max-circuits-per-target <n>        circuits open at once to one peer (default ${DEFAULTS.maxCircuitsPerTarget})
  --max-circuits-per-target-per-ip <n> ... to one peer from one IP or IPv6 /64 (default ${DEFAULTS.maxCircuitsPerTargetPerIp})
  --max-connections <n>                open connections (default max-reservations + ${CONNECTION_HEADROOM})
  --max-connections-per-ip <n>         open connections from one IP or IPv6 /64 (default ${DEFAULTS.maxConnectionsPerIp})
  --connection-rate-per-ip <n>         new inbound connections per second per IP or /64 (default ${DEFAULTS.connectionRatePerIp})
  --max-pending-connections <n>        inbound connections still upgrading, in total (default ${DEFAULTS.maxPendingConnections})
  --max-pending-connections-per-ip <n> ... per IP or IPv6 /64 (default ${DEFAULTS.maxPendingConnectionsPerIp})
  --upgrade-timeout <ms>               time to finish the WebSocket and libp2p handshakes (default ${DEFAULTS.upgradeTimeout})
  --ws-max-payload <bytes>             largest WebSocket message accepted (default ${DEFAULTS.wsMaxPayload})
  --max-topics-per-peer <n>            rooms one reserved peer can make the relay carry (default ${DEFAULTS.maxTopicsPerPeer})
  --max-room-message-size <bytes>      largest room message payload forwarded (default ${DEFAULTS.maxRoomMessageSize})
  --shutdown-timeout <ms>              graceful shutdown bound, then exit anyway (default ${DEFAULTS.shutdownTimeout})
  --replay-window <ms>                 forward no room message whose timestamp is further than this from
                                       the relay's clock (default ${DEFAULTS.replayWindow})
  --seen-ttl <ms>                      how long GossipSub remembers a message, at least twice the replay
                                       window (default ${DEFAULTS.seenTtl})
  --help                               print this
`
