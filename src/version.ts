/** Peerlane's version, sent to other peers as part of the identify agent version */
export const VERSION = '0.1.0'
