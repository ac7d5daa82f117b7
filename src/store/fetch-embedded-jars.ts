// `bin/run-ts src/store/fetch-embedded-jars.ts`: fetches mongo-java-server's jars (core, the H2 and
// memory backends, H2, netty) ahead of time. CI does this before the tests; `vpnwatch start` would
// otherwise do it on first use, and again whenever src/store/embedded/pom.xml changes.
import { ensureMongoJavaServerJars } from './embedded-mongo.ts';

ensureMongoJavaServerJars();
console.log('mongo-java-server jars are in place');
