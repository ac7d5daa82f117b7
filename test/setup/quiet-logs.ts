// Test output should show test results: the app's own log lines only from warnings up.
import { logger } from '../../src/log.ts';

logger.level = 'warn';
