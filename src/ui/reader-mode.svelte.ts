// The consoles' screen-reader mode (xterm.js screenReaderMode: the terminal
// keeps an accessibility tree of its rows and announces new output). Off by
// default: it costs the page work on every line of output. The choice is kept
// in the browser (localStorage) where the browser allows it.

const KEY = 'hv.screenReaderMode';

function stored(): boolean {
  try {
    return globalThis.localStorage?.getItem(KEY) === '1';
  } catch {
    return false; // storage refused (e.g. a cross-site frame): the setting lasts for the page
  }
}

class ReaderMode {
  on = $state(stored());

  set(on: boolean): void {
    this.on = on;
    try {
      globalThis.localStorage?.setItem(KEY, on ? '1' : '0');
    } catch {
      // kept for this page only
    }
  }
}

/** One setting for every console on the page. */
export const readerMode = new ReaderMode();
