/** A problem the developer can fix (a flag, no .dev.vars, no local Worker): one line, no stack. */
export class UsageError extends Error {}
