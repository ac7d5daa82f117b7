// mongo-java-server (the offline engines, H2 and memory) needs Java 17 and, until its jars are
// fetched, Maven: a prerequisite like sshd (see test/harness/prereq.ts).
import { spawnSync } from 'node:child_process';
import type { Prerequisite } from '../harness/prereq.ts';

export function javaPrerequisite(): Prerequisite {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error) return { ok: false, why: 'no java on PATH (install Java 17)' };
  const version = /version "(\d+)/.exec(java.stderr)?.[1];
  if (!version || Number(version) < 17) return { ok: false, why: `java ${version ?? '?'} is older than 17` };
  return { ok: true };
}
