/** A table (`schema.table`) or column name the statements take as they are: plain lower-case SQL names only. */
export const SQL_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/
