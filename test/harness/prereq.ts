// Tests that need a real program (sshd, openvpn) skip with the reason on a developer machine that
// lacks it, but fail on CI: a CI run that silently skipped the SSH tests would prove nothing.
import { beforeAll, describe } from 'vitest';

export interface Prerequisite {
  ok: boolean;
  why?: string;
}

/**
 * Returns a `describe` for suites that need `check` to hold:
 * present → a plain describe; missing → describe.skip with the reason in the title;
 * missing with CI=true → a describe whose first beforeAll throws the reason, so every test fails.
 */
export function requirePrerequisite(check: Prerequisite, label = 'prerequisite'): (title: string, body: () => void) => void {
  if (check.ok) return (title, body) => describe(title, body);
  const why = `${label} missing: ${check.why ?? 'unknown reason'}`;
  if (process.env.CI === 'true') {
    return (title, body) =>
      describe(title, () => {
        beforeAll(() => {
          throw new Error(`${why} (CI=true, so this fails instead of skipping)`);
        });
        body();
      });
  }
  return (title, body) => {
    console.warn(`skipping "${title}": ${why}`);
    describe.skip(`${title} [skipped: ${why}]`, body);
  };
}
