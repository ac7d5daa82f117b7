// `bin/run-ts src/store/fetch-embedded-jars.ts`: fetches mongo-java-server's jars ahead of time
// (CI does this before the tests; `vpnwatch start` would otherwise do it on first use).
import { ensureMongoJavaServerJars } from './embedded-mongo.ts';

ensureMongoJavaServerJars();
console.log('mongo-java-server jars are in place');
