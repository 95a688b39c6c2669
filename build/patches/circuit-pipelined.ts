// A relayed dial sends its CONNECT to the relay and waits for the relay's STATUS (a relay round trip, and the
// relay's own STOP exchange with the target: another) before the connection upgrade writes its first byte. The
// relay forwards whatever follows CONNECT on the hop stream once the circuit is up (it unwraps the stream with
// what it has read ahead), and the target reads it after its own STOP exchange, so the upgrade can start at once:
// '/noise' and Noise's first message go out right behind CONNECT (build/patches/mss-optimistic.ts). The STATUS is
// taken off the front of the hop stream as it arrives, before Noise's answer, which the relay only forwards after
// it; anything but OK fails the dial as before. The connection's limits, which come with that STATUS, are
// filled in when the upgrade ends, and so after the STATUS.
// Measured (bench/delay-proxy.test.ts): connect → usable 4 → 3 relay round trips, → direct 6 → 5, see bench/README.md.
// Upstream: not filed (js-libp2p's circuit relay transport waits for the STATUS). Delete if it pipelines upstream.
import { FILTER_INCOMING_JS } from './incoming-filter.ts'
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

const name = 'circuit-pipelined'
const FILE = '/@libp2p/circuit-relay-v2/dist/src/transport/index.js'

export const circuitPipelined: Patch = {
  name,
  targets: ['browser', 'node'],
  replacements: [
    replaceText(name, FILE, 'the CONNECT answer and the upgrade', `            options.onProgress?.(new CustomProgressEvent('circuit-relay:read-connect-response'));
            const status = await hopstr.read(options);
            if (status.status !== Status.OK) {
                throw new InvalidMessageError(\`failed to connect via relay with status \${status?.status?.toString() ?? 'undefined'}\`);
            }
            const limits = new LimitTracker(status.limit);
            const maConn = streamToMaConnection({
                stream: hopstr.unwrap().unwrap(),
                remoteAddr: ma,
                localAddr: relayAddr.encapsulate(\`/p2p-circuit/p2p/\${this.components.peerId.toString()}\`),
                onDataRead: limits.onData,
                onDataWrite: limits.onData,
                log: stream.log.newScope('circuit-relay:connection')
            });
            const conn = await this.components.upgrader.upgradeOutbound(maConn, {
                ...options,
                limits: limits.getLimits()
            });`, `            options.onProgress?.(new CustomProgressEvent('circuit-relay:read-connect-response'));
            // Peerlane build patch circuit-pipelined: the upgrade starts now, the STATUS is read as it arrives
            const answer = peerlaneReadStatus(stream);
            const raw = hopstr.unwrap().unwrap();
            let limits;
            let counted = 0n;
            const onData = (buf) => { if (limits == null) counted += BigInt(buf.byteLength); else limits.onData(buf); };
            const maConn = streamToMaConnection({
                stream: raw,
                remoteAddr: ma,
                localAddr: relayAddr.encapsulate(\`/p2p-circuit/p2p/\${this.components.peerId.toString()}\`),
                onDataRead: onData,
                onDataWrite: onData,
                log: stream.log.newScope('circuit-relay:connection')
            });
            const upgrade = this.components.upgrader.upgradeOutbound(maConn, {
                ...options,
                get limits () { return limits?.getLimits(); }
            });
            upgrade.catch(() => {});
            const status = await answer;
            if (status.status !== Status.OK) {
                maConn.abort(new InvalidMessageError('the relay refused the circuit'));
                throw new InvalidMessageError(\`failed to connect via relay with status \${status?.status?.toString() ?? 'undefined'}\`);
            }
            limits = new LimitTracker(status.limit);
            if (limits.bytes != null) limits.bytes = limits.bytes > counted ? limits.bytes - counted : 0n;
            const conn = await upgrade;`),
    {
      file: FILE,
      code: (original) => original + FILTER_INCOMING_JS + `
/**
 * The relay's answer to CONNECT (a length-prefixed HopMessage), taken off the front of the hop stream's incoming
 * bytes as they arrive; what follows is handed on as the stream's data (Peerlane build patch circuit-pipelined).
 * Rejects if the stream closes first.
 */
function peerlaneReadStatus(stream) {
    return new Promise((resolve, reject) => {
        let pending = new Uint8Array(0);
        let settled = false;
        const onClose = (evt) => { if (!settled) { settled = true; reject(evt.error ?? new InvalidMessageError('the relay closed the hop stream before its STATUS')); } };
        stream.addEventListener('close', onClose, { once: true });
        peerlaneFilterIncoming(stream, (data) => {
            const joined = new Uint8Array(pending.byteLength + data.byteLength);
            joined.set(pending);
            joined.set(data, pending.byteLength);
            pending = joined;
            let length = 0;
            let read = 0;
            let byte = 0x80;
            for (let shift = 0; (byte & 0x80) !== 0 && shift < 28; shift += 7) {
                if (read >= pending.byteLength) return undefined;
                byte = pending[read++];
                length |= (byte & 0x7f) << shift;
            }
            const fail = (err) => { settled = true; reject(err); stream.abort(err); return undefined; };
            if ((byte & 0x80) !== 0 || length > 4096) return fail(new InvalidMessageError("the relay's STATUS is over 4 KB"));
            if (pending.byteLength < read + length) return undefined;
            try {
                const message = HopMessage.decode(pending.subarray(read, read + length));
                settled = true;
                stream.removeEventListener('close', onClose);
                resolve(message);
            } catch (err) {
                return fail(err);
            }
            return pending.subarray(read + length);
        });
    });
}
`
    }
  ]
}
