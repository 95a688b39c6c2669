// A WebRTC link whose ICE failed still became a "direct" connection: @libp2p/webrtc's
// readCandidatesUntilConnected (private-to-private/util.js) swallows the 'failed' state (it rethrows only when
// the dial's signal aborted) and returns when the signalling stream ends even if ICE is still checking, so the
// dialer went on, our init-channel patch saw the init channel 'closed' and the upgrade returned a connection
// over a failed RTCPeerConnection: a zombie "direct" link for ~8 s until the muxer noticed (seen in the NAT lab
// with Firefox). Replaced: a failed or closed RTCPeerConnection always rejects, and the function returns only
// once the connection state is 'connected' (or the signal aborts).
// Upstream: libp2p/js-libp2p#3460 (same idea). Delete when @libp2p/webrtc's util.js waits for 'connected'.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

const FILE = '/@libp2p/webrtc/dist/src/private-to-private/util.js'

export const webrtcUntilConnected: Patch = {
  name: 'webrtc-until-connected',
  targets: ['browser', 'node'],
  replacements: [
    replaceText('webrtc-until-connected', FILE, 'the swallowed ICE failure', `        if (options.signal?.aborted === true && pc.connectionState !== 'connected') {
            throw err;
        }
    }
};`, `        if (pc.connectionState !== 'connected' && (options.signal?.aborted === true || pc.connectionState === 'failed' || pc.connectionState === 'closed')) {
            throw err;
        }
    }
    await untilConnected(pc, options.signal);
};
// resolves once pc is 'connected', rejects if it fails or closes first, or when signal aborts
function untilConnected(pc, signal) {
    return new Promise((resolve, reject) => {
        const done = () => {
            pc.removeEventListener('connectionstatechange', check);
            signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = () => { done(); reject(signal.reason); };
        function check() {
            if (pc.connectionState === 'connected') {
                done();
                resolve();
                return true;
            }
            if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
                done();
                reject(new ConnectionFailedError(\`RTCPeerConnection connection state became "\${pc.connectionState}"\`));
                return true;
            }
            return false;
        }
        if (check()) return;
        if (signal?.aborted === true) return onAbort();
        pc.addEventListener('connectionstatechange', check);
        signal?.addEventListener('abort', onAbort);
    });
}`)
  ]
}
