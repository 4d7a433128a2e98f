// The messages between an embedded lab (the playground in an iframe) and the
// course page around it. Types only. Every message carries `source: 'hv-lab'`
// so that pages can tell them from other frames' messages. The lab accepts
// messages only from the origins the page allows (?parentOrigin= or the lab
// file's embed.allowedOrigins) and posts only to those origins.

export const LAB_MESSAGE_SOURCE = 'hv-lab';

export interface LabProgressSummary {
  passed: number;
  total: number;
  /** % of the lab's steps passed, 0-100. */
  score: number;
}

/** From the lab to the course page. */
export type LabToParent =
  | { source: typeof LAB_MESSAGE_SOURCE; type: 'lab-loaded'; title: string; sha256: string; steps: { id: string; title: string }[]; progress: LabProgressSummary & { passedSteps: string[] } }
  | { source: typeof LAB_MESSAGE_SOURCE; type: 'lab-error'; message: string }
  | { source: typeof LAB_MESSAGE_SOURCE; type: 'step-checked'; step: string; passed: boolean; score: number }
  | { source: typeof LAB_MESSAGE_SOURCE; type: 'lab-completed'; score: number };

/** From the course page to the lab. */
export type ParentToLab =
  | { source?: typeof LAB_MESSAGE_SOURCE; type: 'reset' }
  /** A step by id, or by 0-based index. */
  | { source?: typeof LAB_MESSAGE_SOURCE; type: 'goto-step'; step: string | number };
