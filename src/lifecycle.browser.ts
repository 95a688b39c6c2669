// The page's lifecycle in a browser: pagehide, online, visibilitychange (lifecycle.ts is the Node no-op).
import type { PageHandlers } from './lifecycle.ts'

export type { PageHandlers } from './lifecycle.ts'

/** Starts watching the page; returns the function that stops it */
export function watchPage ({ onHide, onWake }: PageHandlers): () => void {
  const hide = (evt: PageTransitionEvent): void => { onHide?.(evt.persisted) }
  const wake = (): void => { onWake?.() }
  const visible = (): void => { if (document.visibilityState === 'visible') onWake?.() }
  window.addEventListener('pagehide', hide)
  window.addEventListener('online', wake)
  document.addEventListener('visibilitychange', visible)
  return () => {
    window.removeEventListener('pagehide', hide)
    window.removeEventListener('online', wake)
    document.removeEventListener('visibilitychange', visible)
  }
}
