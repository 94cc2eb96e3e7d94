// The conformance suite on the Postgres door served by two data-plane worker threads
// (gateway.workers): every network connection is a worker's, so each guarantee below is
// held by a worker, with admission, reviews and records on the main thread.
import { completenessAcrossKill, conformanceSuite } from './suite.ts';
import { postgresConformance, postgresKill } from './postgres-driver.ts';

conformanceSuite(postgresConformance('postgres_workers', { workers: 2 }));
completenessAcrossKill(postgresKill('postgres_workers', { workers: 2 }));
