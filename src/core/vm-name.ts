// What a VM may be called: the name becomes the guest's hostname.

/** 1-32 letters, digits and dashes, not starting or ending with a dash. */
export const VM_NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;

/** What the other names (networks, mirrors, snapshots) must be, the same as a VM's. */
export const NAME_RULE = 'use 1-32 letters, digits and dashes';

/** Why a name is refused, in the words the UI and the lab validator show. */
export const VM_NAME_RULE = `${NAME_RULE} (it becomes the guest's hostname)`;
