package storage

import "strings"

// StringParam formats s as a ClickHouse String query parameter ({name:String}). The server
// reads parameter values in its escaped text form, over HTTP and the native protocol alike:
// unescaped, an id ending in a backslash fails to parse (a 500) and `\x5A` matches "Z".
// Escaped, every id is matched as given.
func StringParam(s string) string { return stringParamEscaper.Replace(s) }

var stringParamEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\x00", `\0`)

// ArrayParam formats ss as a ClickHouse Array(String) query parameter ({name:Array(String)}):
// quoted, with backslashes and quotes escaped. The server parses it as a value, never as SQL.
func ArrayParam(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\'')
		for _, c := range s {
			if c == '\\' || c == '\'' {
				b.WriteByte('\\')
			}
			b.WriteRune(c)
		}
		b.WriteByte('\'')
	}
	b.WriteByte(']')
	return b.String()
}

// TuplesParam formats rows as an Array(Tuple(String, ...)) query parameter, each value
// quoted as ArrayParam does; a DateTime element is given as "2006-01-02 15:04:05".
func TuplesParam(rows [][]string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		inner := ArrayParam(r)
		b.WriteByte('(')
		b.WriteString(inner[1 : len(inner)-1])
		b.WriteByte(')')
	}
	b.WriteByte(']')
	return b.String()
}
