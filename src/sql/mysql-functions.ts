// Functions built into MySQL and MariaDB. An unqualified call of one of these names always
// runs the built-in: the server resolves built-in names before stored functions (a stored
// function with a built-in's name is reachable only qualified, `db.f()`), and a loadable
// function (UDF) cannot take a built-in's name. So a call is of a function defined in the
// database exactly when it is qualified or its name is not here, and such a call is opaque
// unless a rule names it (what it runs cannot be seen). A built-in missing from this list
// only costs a review (fail closed).
import type { FunctionFacts } from '../session/types.ts';

const NAMES = `
abs acos adddate addtime add_months aes_decrypt aes_encrypt any_value ascii asin atan atan2 avg
benchmark bin binlog_gtid_pos bin_to_uuid bit_and bit_count bit_length bit_or bit_xor
cast ceil ceiling char character_length char_length charset chr coalesce coercibility collation
column_add column_check column_create column_delete column_exists column_get column_json column_list
compress concat concat_ws connection_id conv convert convert_tz cos cot count crc32 crc32c cume_dist
curdate current_date current_role current_time current_timestamp current_user curtime
database date datediff date_add date_format date_sub day dayname dayofmonth dayofweek dayofyear decode
decode_histogram default degrees dense_rank des_decrypt des_encrypt elt encode encrypt exists exp
export_set extract extractvalue field find_in_set first_value floor format format_bytes format_pico_time
found_rows from_base64 from_days from_unixtime get_format get_lock greatest group_concat grouping
gtid_subset gtid_subtract hex hour icu_version if ifnull in inet6_aton inet6_ntoa inet_aton inet_ntoa
insert instr interval isnull is_free_lock is_ipv4 is_ipv4_compat is_ipv4_mapped is_ipv6 is_used_lock
is_uuid json_array json_arrayagg json_array_append json_array_insert json_compact json_contains
json_contains_path json_depth json_detailed json_equals json_exists json_extract json_insert json_keys
json_length json_loose json_merge json_merge_patch json_merge_preserve json_normalize json_object
json_objectagg json_overlaps json_pretty json_query json_quote json_remove json_replace json_schema_valid
json_schema_validation_report json_search json_set json_storage_free json_storage_size json_table
json_type json_unquote json_valid json_value lag last_day last_insert_id last_value lastval lcase lead
least left length lengthb ln load_file localtime localtimestamp locate log log10 log2 lower lpad ltrim
make_set makedate maketime master_gtid_wait master_pos_wait match max md5 median microsecond mid min
minute mod month monthname name_const natural_sort_key nextval not now nth_value ntile nullif nvl nvl2
oct octet_length old_password ord percent_rank percentile_cont percentile_disc period_add period_diff pi
position pow power ps_current_thread_id ps_thread_id quarter quote radians rand random_bytes rank
regexp regexp_instr regexp_like regexp_replace regexp_substr release_all_locks release_lock repeat
replace reverse right round row row_count row_number rpad rtrim schema schemas sec_to_time second
session_user setval sformat sha sha1 sha2 sign sin sleep soundex source_pos_wait space sqrt std stddev
stddev_pop stddev_samp strcmp str_to_date subdate substr substring substring_index subtime sum sys_guid
sysdate system_user tan time timediff timestamp timestampadd timestampdiff time_format time_to_sec
to_base64 to_char to_days to_seconds trim truncate ucase uncompress uncompressed_length unhex
unix_timestamp updatexml upper user utc_date utc_time utc_timestamp uuid uuid_short uuid_to_bin
validate_password_strength value values variance var_pop var_samp version wait_for_executed_gtid_set
week weekday weekofyear weight_string year yearweek
st_area st_asbinary st_asgeojson st_astext st_aswkb st_aswkt st_boundary st_buffer st_centroid
st_contains st_convexhull st_crosses st_difference st_dimension st_disjoint st_distance st_distance_sphere
st_endpoint st_envelope st_equals st_exteriorring st_geomcollfromtext st_geomcollfromwkb st_geometryn
st_geometrytype st_geomfromgeojson st_geomfromtext st_geomfromwkb st_interiorringn st_intersection
st_intersects st_isclosed st_isempty st_isring st_issimple st_isvalid st_length st_linefromtext
st_linefromwkb st_mlinefromtext st_mpointfromtext st_mpolyfromtext st_numgeometries st_numinteriorrings
st_numpoints st_overlaps st_pointfromtext st_pointfromwkb st_pointn st_polyfromtext st_polyfromwkb
st_relate st_simplify st_srid st_startpoint st_symdifference st_touches st_union st_validate st_within
st_x st_y point linestring polygon multipoint multilinestring multipolygon geometrycollection
mbrcontains mbrcoveredby mbrcovers mbrdisjoint mbrequals mbrintersects mbroverlaps mbrtouches mbrwithin
`;

export const MYSQL_BUILTIN_FUNCTIONS: ReadonlySet<string> = new Set(NAMES.split(/\s+/).filter(Boolean));

/** What the guard knows of MySQL functions without asking the target (see the top of this file). */
export const mysqlFunctionFacts: FunctionFacts = {
  isBuiltin: (ref) => ref.schema === undefined && MYSQL_BUILTIN_FUNCTIONS.has(ref.name.toLowerCase()),
  schemasOf: () => [],
};
