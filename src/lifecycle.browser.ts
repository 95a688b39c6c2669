// The page's lifecycle in a browser: pagehide, online, visibilitychange, and Chromium's freeze / resume
// (Page Lifecycle API) (lifecycle.ts is the Node no-op).
import type { PageHandlers } from './lifecycle.ts'

export type { PageHandlers } from './lifecycle.ts'

/** Starts watching the page; returns the function that stops it */
export function watchPage ({ onHide, onWake, onHidden }: PageHandlers): () => void {
  const hide = (evt: PageTransitionEvent): void => { onHide?.(evt.persisted) }
  const wake = (): void => { onWake?.() }
  const visibility = (): void => {
    const hidden = document.visibilityState === 'hidden'
    onHidden?.(hidden)
    if (!hidden) onWake?.()
  }
  // a frozen page runs nothing until it resumes: say so while we still can
  const freeze = (): void => { onHidden?.(true) }
  const resume = (): void => { onHidden?.(document.visibilityState === 'hidden'); onWake?.() }
  window.addEventListener('pagehide', hide)
  window.addEventListener('online', wake)
  document.addEventListener('visibilitychange', visibility)
  document.addEventListener('freeze', freeze)
  document.addEventListener('resume', resume)
  if (document.visibilityState === 'hidden') onHidden?.(true)
  return () => {
    window.removeEventListener('pagehide', hide)
    window.removeEventListener('online', wake)
    document.removeEventListener('visibilitychange', visibility)
    document.removeEventListener('freeze', freeze)
    document.removeEventListener('resume', resume)
  }
}
