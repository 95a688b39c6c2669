// The page's lifecycle, as a peer reacts to it. In Node there is no page: nothing to watch. Browser builds
// get lifecycle.browser.ts instead (vite.config.ts aliases it, as package `browser` maps do).

/** What a peer does when the page changes state */
export interface PageHandlers {
  /** the page is being hidden or unloaded (`pagehide`); `persisted` when it goes into the back/forward cache */
  onHide?: (persisted: boolean) => void
  /** the network came back (`online`) or the tab became visible: a good time to reconnect at once */
  onWake?: () => void
  /** the page was hidden or is about to be frozen (`true`), or is visible or resumed again (`false`) */
  onHidden?: (hidden: boolean) => void
}

/** Starts watching the page; returns the function that stops it */
export function watchPage (_handlers: PageHandlers): () => void {
  return () => {}
}
