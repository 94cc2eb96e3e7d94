// The conformance suite on the MySQL door, served by the main thread.
import { completenessAcrossKill, conformanceSuite } from './suite.ts';
import { mysqlConformance, mysqlKill } from './mysql-driver.ts';

conformanceSuite(mysqlConformance('mysql'));
completenessAcrossKill(mysqlKill('mysql'));
