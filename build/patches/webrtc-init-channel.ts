// The WebRTC dialer's 'init' data channel: the answering side's muxer closes it as soon as it sees it
// (@libp2p/webrtc muxer.js, "closed by the initiator"), and when that happens before the dialer gets to
// `readyState !== 'open'` the dialer waits for an 'open' (or a 'close') that already happened, until the
// dial times out: about one first WebRTC link in five took ~6 s here, a stock libp2p dial included (0 stalls
// in 50 dials with this, 5 in 39 without). Replaced: wait for 'open' only while the channel is connecting,
// and for 'close' only if it is not closed.
// Upstream: not filed. Delete when @libp2p/webrtc's initiate-connection.js races 'open' with 'close'.
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

export const webrtcInitChannel: Patch = {
  name: 'webrtc-init-channel',
  targets: ['browser', 'node'],
  replacements: [
    replaceText('webrtc-init-channel', '/@libp2p/webrtc/dist/src/private-to-private/initiate-connection.js', 'the init channel wait', `        if (channel.readyState !== 'open') {
            log.trace('wait for init channel to open');
            await pEvent(channel, 'open', {
                signal
            });
        }
        log.trace('closing init channel');
        channel.close();
        // wait for init channel to close before proceeding, otherwise the channel
        // id can be reused before both sides have seen the channel close
        log.trace('waiting for init channel to close');
        await pEvent(channel, 'close', {
            signal
        });`, `        if (channel.readyState === 'connecting') {
            log.trace('wait for init channel to open');
            // the remote may close it first (its muxer closes an 'init' channel it sees)
            await Promise.race([pEvent(channel, 'open', { signal }), pEvent(channel, 'close', { signal })]);
        }
        if (channel.readyState !== 'closed') {
            // wait for init channel to close before proceeding, otherwise the channel
            // id can be reused before both sides have seen the channel close
            log.trace('closing init channel');
            const closed = pEvent(channel, 'close', { signal });
            channel.close();
            await closed;
        }`)
  ]
}
