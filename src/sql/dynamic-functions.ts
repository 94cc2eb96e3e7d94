// Functions that run SQL given to them as text (or whole schemas' worth of reads). What
// such a call touches cannot be read off the statement, so a statement calling one is
// `opaque` and falls to the connection's onUnknown unless a rule names it. User-defined
// functions may EXECUTE strings too; those cannot be known from the text at all (a
// documented limit: name them in rules).
const EXACT = new Set([
  // xml export of a query text, a table (by regclass text) or everything
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
  'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema',
  'schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema',
  'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
  // full-text search helpers that run a query given as text
  'ts_stat', 'ts_rewrite',
  // common extensions that run SQL text
  'pg_background_launch', 'run_command_on_workers', 'run_command_on_all_nodes',
]);

/** True for a function whose effect is SQL passed as a string (dblink_*, query_to_xml, ...). */
export function runsDynamicSql(name: string): boolean {
  return EXACT.has(name) || name.startsWith('dblink');
}
