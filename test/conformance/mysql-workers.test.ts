// The conformance suite on the MySQL door served by two data-plane worker threads
// (gateway.workers): every network connection is a worker's, so each guarantee below is
// held by a worker, with admission, reviews and records on the main thread. The suite's
// cancel is a KILL QUERY from a second connection, which the kernel may give to the other
// worker: the main thread passes it to the thread whose id it names.
import { completenessAcrossKill, conformanceSuite } from './suite.ts';
import { mysqlConformance, mysqlKill } from './mysql-driver.ts';

conformanceSuite(mysqlConformance('mysql_workers', { workers: 2 }));
completenessAcrossKill(mysqlKill('mysql_workers', { workers: 2 }));
