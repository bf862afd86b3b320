// Failures a user can fix from the message alone: main() prints their one line, no stack trace.
export class UserError extends Error {}

export const fail = (message: string): never => {
  throw new UserError(message);
};

/** Runs a validating helper and turns what it throws into a UserError. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    return fail((error as Error).message);
  }
}
