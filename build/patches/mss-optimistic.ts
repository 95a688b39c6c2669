// multistream-select's optimistic ("lazy") select: libp2p 3 documents `negotiateFully: false` (send the protocol
// name and the first data together, read the answer later: a round trip less on every stream opened that way)
// in @libp2p/interface's NewStreamOptions and in MultistreamSelectInit, but @libp2p/multistream-select 7's
// select() ignores it and always waits for the answer. This implements it: with `negotiateFully: false` and one
// protocol, select() writes the header and the protocol and returns at once; the two answers are read in the
// stream's incoming bytes, before anything else sees them (synchronously, as they arrive: what follows them is the
// stream's data as before), and a refusal ('na') or anything unexpected aborts the stream with UnsupportedProtocolError. The other
// side needs nothing: it reads the two lines and leaves what follows for its handler, as it always did (go- and
// rust-libp2p dialers do the same). Which streams opt in: build/patches/mss-optimistic-callers.ts.
// Measured (bench/delay-proxy.test.ts): one relay round trip less for each stream opened so, see bench/README.md.
// Upstream: @libp2p/multistream-select 7 (js-libp2p 3) dropped the lazy select of earlier majors; not filed yet.
// Delete when select() honours negotiateFully again.
import { FILTER_INCOMING_JS } from './incoming-filter.ts'
import { replaceText } from '../patch.ts'
import type { Patch } from '../patch.ts'

const FILE = '/@libp2p/multistream-select/dist/src/select.js'

export const mssOptimistic: Patch = {
  name: 'mss-optimistic',
  targets: ['browser', 'node', 'relay'],
  replacements: [
    replaceText('mss-optimistic', FILE, 'the start of select()', `    const log = stream.log.newScope('mss:select');
    const lp = lpStream(stream, {
        ...options,
        maxDataLength: MAX_PROTOCOL_LENGTH
    });`, `    const log = stream.log.newScope('mss:select');
    if (options.negotiateFully === false && protocols.length === 1) {
        return await peerlaneOptimisticSelect(stream, protocols[0], options, log);
    }
    const lp = lpStream(stream, {
        ...options,
        maxDataLength: MAX_PROTOCOL_LENGTH
    });`),
    {
      file: FILE,
      code: (original) => original + FILTER_INCOMING_JS + `
/**
 * Writes the header and \`protocol\` and returns. The stream's first incoming bytes go through a filter that
 * takes the two answers (length-prefixed lines) off the front as they arrive and hands on what follows as the
 * stream's data; a refusal ('na') or anything unexpected aborts the stream (Peerlane build patch mss-optimistic)
 */
async function peerlaneOptimisticSelect(stream, protocol, options, log) {
    const expected = [PROTOCOL_ID, protocol];
    const decoder = new TextDecoder();
    let pending = new Uint8Array(0);
    const fail = (message) => {
        log.error('optimistic select of %s failed - %s', protocol, message);
        stream.abort(new UnsupportedProtocolError(\`Protocol selection failed - \${message}\`));
    };
    peerlaneFilterIncoming(stream, (data) => {
        const joined = new Uint8Array(pending.byteLength + data.byteLength);
        joined.set(pending);
        joined.set(data, pending.byteLength);
        pending = joined;
        while (expected.length > 0) {
            let length = 0;
            let at = 0;
            let byte = 0x80;
            for (let shift = 0; (byte & 0x80) !== 0 && shift < 21; shift += 7) {
                if (at >= pending.byteLength) return undefined; // the rest of the answer is still on its way
                byte = pending[at++];
                length |= (byte & 0x7f) << shift;
            }
            if ((byte & 0x80) !== 0 || length > MAX_PROTOCOL_LENGTH) { fail(\`an answer to \${protocol} over \${MAX_PROTOCOL_LENGTH} bytes\`); return undefined; }
            if (pending.byteLength < at + length) return undefined;
            const line = decoder.decode(pending.subarray(at, at + length)).trimEnd();
            pending = pending.subarray(at + length);
            const wanted = expected.shift();
            if (line !== wanted) { fail(line === 'na' ? \`could not negotiate \${protocol}\` : \`read "\${line}" instead of "\${wanted}"\`); return undefined; }
        }
        log.trace('selected "%s" optimistically', protocol);
        return pending;
    });
    log.trace('write ["%s", "%s"] optimistically', PROTOCOL_ID, protocol);
    const lp = lpStream(stream, { maxDataLength: MAX_PROTOCOL_LENGTH });
    try {
        await lp.writeV([uint8ArrayFromString(\`\${PROTOCOL_ID}\\n\`), uint8ArrayFromString(\`\${protocol}\\n\`)], options);
    } finally {
        lp.unwrap();
    }
    return protocol;
}
`
    }
  ]
}
