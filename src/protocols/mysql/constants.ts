// Numbers of the MySQL client/server protocol (MySQL 8 and MariaDB share them here).

/** Capability flags (HandshakeV10 / HandshakeResponse41). */
export const CLIENT = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 2,
  LONG_FLAG: 4,
  CONNECT_WITH_DB: 8,
  NO_SCHEMA: 16,
  COMPRESS: 32,
  ODBC: 64,
  LOCAL_FILES: 128,
  IGNORE_SPACE: 256,
  PROTOCOL_41: 512,
  INTERACTIVE: 1024,
  SSL: 2048,
  IGNORE_SIGPIPE: 4096,
  TRANSACTIONS: 8192,
  RESERVED: 16384,
  SECURE_CONNECTION: 32768,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
} as const;

/**
 * What the gateway offers a client. Not offered: COMPRESS, and the flags that change the
 * format of commands or results beyond what the engine reads (query attributes, optional
 * metadata, MariaDB's extended capabilities).
 */
export const OFFERED =
  CLIENT.LONG_PASSWORD | CLIENT.FOUND_ROWS | CLIENT.LONG_FLAG | CLIENT.CONNECT_WITH_DB | CLIENT.NO_SCHEMA | CLIENT.ODBC |
  CLIENT.LOCAL_FILES | CLIENT.IGNORE_SPACE | CLIENT.PROTOCOL_41 | CLIENT.INTERACTIVE | CLIENT.IGNORE_SIGPIPE |
  CLIENT.TRANSACTIONS | CLIENT.RESERVED | CLIENT.SECURE_CONNECTION | CLIENT.MULTI_STATEMENTS | CLIENT.MULTI_RESULTS |
  CLIENT.PS_MULTI_RESULTS | CLIENT.PLUGIN_AUTH | CLIENT.CONNECT_ATTRS | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT.SESSION_TRACK | CLIENT.DEPRECATE_EOF;

/**
 * Flags of the client that change what the server sends or accepts: the gateway asks the
 * target for the same ones, so packets pass between the two legs as they are.
 */
export const PASSED_THROUGH =
  CLIENT.FOUND_ROWS | CLIENT.LONG_FLAG | CLIENT.IGNORE_SPACE | CLIENT.INTERACTIVE | CLIENT.ODBC | CLIENT.LOCAL_FILES |
  CLIENT.MULTI_STATEMENTS | CLIENT.MULTI_RESULTS | CLIENT.PS_MULTI_RESULTS | CLIENT.SESSION_TRACK | CLIENT.DEPRECATE_EOF |
  CLIENT.TRANSACTIONS | CLIENT.NO_SCHEMA;

/** Flags whose absence on the target would change packets the client reads: the target must have them. */
export const MUST_MATCH = CLIENT.PROTOCOL_41 | CLIENT.DEPRECATE_EOF | CLIENT.SESSION_TRACK | CLIENT.MULTI_RESULTS | CLIENT.PS_MULTI_RESULTS;

/** Server status flags (OK and EOF packets). */
export const STATUS = {
  IN_TRANS: 1,
  AUTOCOMMIT: 2,
  MORE_RESULTS_EXISTS: 8,
  CURSOR_EXISTS: 64,
  LAST_ROW_SENT: 128,
  NO_BACKSLASH_ESCAPES: 512,
} as const;

/** Commands (the first byte of a client packet in the command phase). */
export const COM = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  RESET_CONNECTION: 0x1f,
} as const;

/** Column types (ColumnDefinition41.type). */
export const TYPE = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** Column flags (ColumnDefinition41.flags). */
export const FLAG = { UNSIGNED: 32, BINARY: 128 } as const;

/** The character set id of `binary` (a column of bytes, not text). */
export const BINARY_CHARSET = 63;
/** utf8mb4_general_ci: what the gateway announces, known to every client and server in use. */
export const UTF8MB4_GENERAL_CI = 45;

/** Payload length of a packet that continues in the next one (16 MiB - 1). */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** Error codes the gateway answers with. */
export const ER = {
  ACCESS_DENIED: 1045,
  DBACCESS_DENIED: 1044,
  TABLEACCESS_DENIED: 1142,
  NOT_SUPPORTED_AUTH_MODE: 1251,
  UNKNOWN_COM: 1047,
  HANDSHAKE: 1043,
  NET_PACKET_TOO_LARGE: 1153,
  UNKNOWN_STMT_HANDLER: 1243,
  NOT_ALLOWED_COMMAND: 1148,
  /** the server ends the session (shutdown, or the gateway's target gone); SQLSTATE 08S01 */
  SERVER_SHUTDOWN: 1053,
  CONNECTION_ERROR: 2013,
  SERVER_GONE: 2006,
  INTERNAL: 1815,
} as const;
