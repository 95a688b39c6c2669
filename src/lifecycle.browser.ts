// The page's lifecycle in a browser: pagehide, online, visibilitychange, and Chromium's freeze / resume
// (Page Lifecycle API) (lifecycle.ts is the Node no-op).
import type { PageHandlers } from './lifecycle.ts'

export type { PageHandlers } from './lifecycle.ts'

/** Starts watching the page; returns the function that stops it */
/** a closing tab is hidden first (visibilitychange, then pagehide): "hidden" is said only once it lasts this long */
const HIDDEN_AFTER_MS = 1_000

export function watchPage ({ onHide, onWake, onHidden }: PageHandlers): () => void {
  let hiding: ReturnType<typeof setTimeout> | undefined
  const hide = (evt: PageTransitionEvent): void => { clearTimeout(hiding); onHide?.(evt.persisted) }
  const wake = (): void => { onWake?.() }
  const visibility = (): void => {
    clearTimeout(hiding)
    if (document.visibilityState === 'hidden') {
      hiding = setTimeout(() => { onHidden?.(true) }, HIDDEN_AFTER_MS)
    } else {
      onHidden?.(false)
      onWake?.()
    }
  }
  // a frozen page runs nothing until it resumes: say so while we still can
  const freeze = (): void => { clearTimeout(hiding); onHidden?.(true) }
  const resume = (): void => { onHidden?.(document.visibilityState === 'hidden'); onWake?.() }
  window.addEventListener('pagehide', hide)
  window.addEventListener('online', wake)
  document.addEventListener('visibilitychange', visibility)
  document.addEventListener('freeze', freeze)
  document.addEventListener('resume', resume)
  if (document.visibilityState === 'hidden') onHidden?.(true)
  return () => {
    clearTimeout(hiding)
    window.removeEventListener('pagehide', hide)
    window.removeEventListener('online', wake)
    document.removeEventListener('visibilitychange', visibility)
    document.removeEventListener('freeze', freeze)
    document.removeEventListener('resume', resume)
  }
}
