// `bin/run-ts src/store/fetch-embedded-jars.ts`: fetches mongo-java-server's jars (core, the H2 and
// memory backends, H2, netty) ahead of time. CI does this before the tests; `vpnwatch start` would
// otherwise do it on first use, and again whenever src/store/embedded/pom.xml changes.
import fs from 'node:fs';
import { ensureMongoJavaServerJars } from './embedded-mongo.ts';

const dir = ensureMongoJavaServerJars();
console.log(`mongo-java-server jars are in ${dir}: ${fs.readdirSync(dir).filter((f) => f.endsWith('.jar')).sort().join(' ')}`);
