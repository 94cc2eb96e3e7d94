// The conformance suite on the Postgres door, served by the main thread.
import { completenessAcrossKill, conformanceSuite } from './suite.ts';
import { postgresConformance, postgresKill } from './postgres-driver.ts';

conformanceSuite(postgresConformance('postgres'));
completenessAcrossKill(postgresKill('postgres'));
