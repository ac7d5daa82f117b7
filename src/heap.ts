// The heap policy of the long-running process (`vpnwatch start`, and the poll-cycle bench that
// measures it): one V8 setting, with the figures that chose it.
import v8 from 'node:v8';

/** How far (percent) V8 lets the old generation grow over what its last full collection left live. */
export const HEAP_GROWING_PERCENT = 35;

/**
 * V8 sizes its heap for throughput: with the few hundred MB a poll cycle allocates, it let the old
 * generation grow to 3 to 4 times what was live before collecting again (200 servers × 500
 * sessions: 95 MB live, 550 to 720 MB RSS). Bounding the growth to 35 % over the live size keeps
 * RSS near 350 MB for a cycle about 5 % slower (npm run bench -- poll-cycle; README "Benchmarks").
 * A soft bound, unlike --max-old-space-size: the heap still grows as far as the fleet needs, and
 * no fleet size makes vpnwatch run out of memory because of it. For the whole process; call once.
 */
export function keepHeapNearLive(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
