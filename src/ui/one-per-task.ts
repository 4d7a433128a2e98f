// Work that would make one long task when several components mount together
// runs one piece per task instead. Opening an xterm terminal costs ~15 ms of
// CPU in Chromium (its DOM, a measuring pass that forces layout, its
// renderer); four guests created at once opened four in one task of 64 ms
// CPU, which the booting workers stretched to ~70 ms on two cores (a Chrome
// trace and CPU profile of the boot). One per task, the page can paint and
// answer input between them. Tasks come from a MessageChannel: unlike
// setTimeout, neither clamped nor throttled to 1 Hz in a background tab.

const queue: (() => void)[] = [];
let channel: MessageChannel | null = null;
let posted = false;

function runOne(): void {
  posted = false;
  const job = queue.shift();
  if (queue.length > 0) post();
  job?.();
}

function post(): void {
  if (posted) return;
  posted = true;
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = runOne;
  }
  channel.port2.postMessage(null);
}

/** Run `job` in a task of its own, after those queued before it; returns a function that takes it off the queue if it has not run. */
export function inTaskOfItsOwn(job: () => void): () => void {
  queue.push(job);
  post();
  return () => {
    const i = queue.indexOf(job);
    if (i >= 0) queue.splice(i, 1);
  };
}
