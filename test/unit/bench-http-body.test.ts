// bench:http checks its 1 GiB bodies by hash at the far end, in another process: the body must be
// the same bytes in every process, and a lost, doubled or reordered block must change the hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { BLOCK, bodyBlocks, bodyHash } from '../../bench/http-body.ts';

const SIZE = 4 * BLOCK;

test('the bench body is the same bytes in another process', () => {
  const url = new URL('../../bench/http-body.ts', import.meta.url).href;
  const there = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { bodyHash } from '${url}'; process.stdout.write(bodyHash(${SIZE}, 7));`], { encoding: 'utf8' });
  assert.equal(there, bodyHash(SIZE, 7));
});

test('a reordered, doubled or missing block, or another seed, changes the hash', () => {
  const blocks = [...bodyBlocks(SIZE, 7)];
  const hash = (bs: Buffer[]) => createHash('sha256').update(Buffer.concat(bs)).digest('hex');
  assert.equal(hash(blocks), bodyHash(SIZE, 7));
  assert.notEqual(hash([blocks[1]!, blocks[0]!, blocks[2]!, blocks[3]!]), bodyHash(SIZE, 7));
  assert.notEqual(hash([blocks[0]!, blocks[0]!, blocks[2]!, blocks[3]!]), bodyHash(SIZE, 7));
  assert.notEqual(hash(blocks.slice(0, 3)), bodyHash(SIZE, 7));
  assert.notEqual(bodyHash(SIZE, 8), bodyHash(SIZE, 7));
});
