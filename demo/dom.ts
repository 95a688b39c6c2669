// Small DOM and formatting helpers of the chat page
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T
/** the end of a PeerId, enough to tell members apart */
export const short = (id: string): string => `…${id.slice(-6)}`
export const time = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
