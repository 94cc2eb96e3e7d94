// A node:test reporter for scripts/test.mjs: passes and failures counted per test file,
// written as one JSON object ({ "<file>": { "pass": n, "fail": n } }), so a file that is
// run a second time can have its first failures counted as flaky, by name, and no more.
// A file that fails to load or dies counts as one failure of that file; a test cancelled
// by its parent's failure counts as a failure.
export default async function* countsByFile(source) {
  const files = {};
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { data } = event;
    if (data.skip !== undefined || data.todo !== undefined) continue;
    // A suite counts only when it failed by itself (a hook, its body), not for its tests.
    if (data.details?.type === 'suite' && (event.type === 'test:pass' || data.details.error?.failureType === 'subtestsFailed')) continue;
    const counts = (files[data.file ?? '(no file)'] ??= { pass: 0, fail: 0 });
    if (event.type === 'test:pass') counts.pass += 1;
    else counts.fail += 1;
  }
  yield JSON.stringify(files) + '\n';
}
