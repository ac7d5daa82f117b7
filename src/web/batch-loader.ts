// Many requests for different keys at once, answered by one query: the keys asked for while the
// event loop is busy go out together (MongoDB's `$in`). Under load, /api/users/:name for a hundred
// different users was a hundred lookups; now it is one per turn of the event loop.
export function batchLoader<K, V>(load: (keys: K[]) => Promise<Map<K, V>>, maxBatch = 200): (key: K) => Promise<V | undefined> {
  let waiting: { keys: Set<K>; result: Promise<Map<K, V>> } | undefined;
  return (key) => {
    if (!waiting || waiting.keys.size >= maxBatch) {
      const keys = new Set<K>();
      // The query leaves after this turn of the event loop, with every key asked for in it.
      const result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        if (waiting?.keys === keys) waiting = undefined;
        return load([...keys]);
      });
      waiting = { keys, result };
    }
    waiting.keys.add(key);
    return waiting.result.then((found) => found.get(key));
  };
}
