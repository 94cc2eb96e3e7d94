// Every failure `npm run fuzz` saved (test/fuzz-cases/*.json) replayed: a fixed crash
// stays fixed. Findings still open (test/fuzz-cases/open/) replay as todo: reported, not failing.
import { test, before } from 'node:test';
import { basename } from 'node:path';
import { initPostgresParser } from '../../src/sql/postgres.ts';
import { CASES_DIR, loadCases, runCase } from '../../fuzz/cases.ts';

before(() => initPostgresParser());

for (const { file, saved } of loadCases()) {
  test(`${basename(file)}: ${saved.finding}`, () => runCase(saved.case));
}
for (const { file, saved } of loadCases(`${CASES_DIR}open/`)) {
  // a hang would hold the file open: listed, not run, until it is fixed
  const hang = saved.finding.startsWith('hang');
  test(`open: ${basename(file)}: ${saved.finding}`, hang ? { skip: 'a hang: replay it with npm run fuzz -- --seed' } : { todo: true }, () => runCase(saved.case));
}
