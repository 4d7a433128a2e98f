/**
 * For a view's $effect: call `refresh` now and every `ms` while `active`
 * (the view is shown); returns the effect's cleanup.
 */
export function pollWhile(active: boolean, refresh: () => Promise<void>, ms: number): (() => void) | undefined {
  if (!active) return undefined;
  void refresh();
  const timer = setInterval(() => void refresh(), ms);
  return () => clearInterval(timer);
}
