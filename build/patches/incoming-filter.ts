// Shared by the patches that read a stream's first incoming bytes themselves before its reader gets them
// (mss-optimistic: multistream-select's answers; circuit-pipelined: the relay's STATUS). The JavaScript below is
// appended to each patched file. Every stream takes its incoming bytes through `onData` (@libp2p/utils'
// AbstractMessageStream); while filters are in line, an own `onData` hands the bytes to the first filter, which
// returns what it did not need (it is done: the next filter gets that), or undefined (it keeps what it got and
// waits for more, or it failed and aborted the stream). Once none is left the stream's own `onData` is back.
// Not a patch itself; delete with the last patch that uses it.

/** `peerlaneFilterIncoming(stream, filter)`, as JavaScript to append to a patched module */
export const FILTER_INCOMING_JS = `
/** Puts \`filter\` in line for \`stream\`'s incoming bytes, after the filters already there (Peerlane build patches) */
function peerlaneFilterIncoming(stream, filter) {
    const key = Symbol.for('peerlane.incoming-filters');
    let filters = stream[key];
    if (filters == null) {
        filters = stream[key] = [];
        stream.onData = function (data) {
            let rest = data.subarray();
            while (filters.length > 0) {
                rest = filters[0](rest);
                if (rest === undefined) return;
                filters.shift();
            }
            delete stream.onData;
            delete stream[key];
            if (rest.byteLength > 0) stream.onData(rest);
        };
    }
    filters.push(filter);
}
`
