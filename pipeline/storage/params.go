package storage

import "strings"

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
