// What a VM may be called: the name becomes the guest's hostname.

/** 1-32 letters, digits and dashes, not starting or ending with a dash. */
export const VM_NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;

/** Why a name is refused, in the words the UI and the lab validator show. */
export const VM_NAME_RULE = 'use 1-32 letters, digits and dashes (it becomes the guest\'s hostname)';
