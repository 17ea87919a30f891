package endpoint

import (
	"strings"
)

// A small lexer for the few decisions the endpoint makes about SQL text before the engine sees
// it: where an INSERT's data starts and which output format a query asks for. It knows
// ClickHouse's quoting and comments, nothing more. It decides nothing about what a client may
// do: the guard (guard.go) asks the engine's parser for that.

type tokenKind int

const (
	tokWord   tokenKind = iota // keyword, bare identifier or number
	tokQuoted                  // `identifier` or "identifier"
	tokString                  // 'string'
	tokPunct                   // any other single character
)

type token struct {
	kind       tokenKind
	text       string // for tokQuoted, the identifier without quotes
	start, end int
}

func (t token) is(keyword string) bool {
	return t.kind == tokWord && strings.EqualFold(t.text, keyword)
}

type scanner struct {
	s            string
	pos          int
	unterminated bool // the text ended inside a quoted string or identifier
}

// next returns the next token, or false at the end of the text or of the part that can be
// tokenised (an unterminated quote or comment).
func (sc *scanner) next() (token, bool) {
	sc.skipSpaceAndComments()
	s, i := sc.s, sc.pos
	if i >= len(s) {
		return token{}, false
	}
	c := s[i]
	switch {
	case isWordByte(c):
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		sc.pos = j
		return token{kind: tokWord, text: s[i:j], start: i, end: j}, true
	case c == '\'' || c == '"' || c == '`':
		j := i + 1
		var b strings.Builder
		for j < len(s) {
			switch {
			case s[j] == '\\' && j+1 < len(s):
				b.WriteByte(s[j+1])
				j += 2
				continue
			case s[j] == c && j+1 < len(s) && s[j+1] == c:
				b.WriteByte(c)
				j += 2
				continue
			case s[j] == c:
				sc.pos = j + 1
				kind := tokQuoted
				if c == '\'' {
					kind = tokString
				}
				return token{kind: kind, text: b.String(), start: i, end: j + 1}, true
			}
			b.WriteByte(s[j])
			j++
		}
		sc.pos = len(s)
		sc.unterminated = true
		return token{}, false
	default:
		sc.pos = i + 1
		return token{kind: tokPunct, text: s[i : i+1], start: i, end: i + 1}, true
	}
}

func (sc *scanner) skipSpaceAndComments() {
	s := sc.s
	for sc.pos < len(s) {
		switch {
		case isSpace(s[sc.pos]):
			sc.pos++
		case strings.HasPrefix(s[sc.pos:], "--") || s[sc.pos] == '#':
			if nl := strings.IndexByte(s[sc.pos:], '\n'); nl >= 0 {
				sc.pos += nl + 1
			} else {
				sc.pos = len(s)
			}
		case strings.HasPrefix(s[sc.pos:], "/*"):
			if end := strings.Index(s[sc.pos+2:], "*/"); end >= 0 {
				sc.pos += end + 4
			} else {
				sc.pos = len(s)
			}
		default:
			return
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// firstKeyword returns the first word of sql, upper-cased, skipping opening parentheses.
func firstKeyword(sql string) string {
	sc := scanner{s: sql}
	for {
		t, ok := sc.next()
		if !ok {
			return ""
		}
		if t.kind == tokPunct && t.text == "(" {
			continue
		}
		if t.kind != tokWord {
			return ""
		}
		return strings.ToUpper(t.text)
	}
}

// insertSplit is an INSERT statement cut where its data starts.
type insertSplit struct {
	head      string // "INSERT INTO t (a, b)": no FORMAT clause, no data
	format    string // input format of the data: the FORMAT clause, or Values
	dataStart int    // offset of the data in the text
}

// splitInsert finds where the data of an INSERT with inline data starts: after its FORMAT clause
// ("INSERT INTO t FORMAT CSV\n1,2") or its VALUES keyword. It returns false for anything else,
// including INSERT ... SELECT, which carries no data.
//
// As ClickHouse does, the data of a FORMAT clause starts after the format name, the spaces after
// it and at most one line break.
func splitInsert(sql string) (insertSplit, bool) {
	sc := scanner{s: sql}
	want := func(kw string) bool {
		t, ok := sc.next()
		return ok && t.is(kw)
	}
	if !want("INSERT") || !want("INTO") {
		return insertSplit{}, false
	}
	// The target: [TABLE] [db.]name, or FUNCTION name(...). Its name may be any word, even FORMAT.
	t, ok := sc.next()
	if !ok {
		return insertSplit{}, false
	}
	if t.is("TABLE") {
		if t, ok = sc.next(); !ok {
			return insertSplit{}, false
		}
	}
	depth := 0
	if t.is("FUNCTION") {
		if _, ok = sc.next(); !ok {
			return insertSplit{}, false
		}
	} else {
		if t.kind != tokWord && t.kind != tokQuoted {
			return insertSplit{}, false
		}
		save := sc.pos
		if dot, ok := sc.next(); ok && dot.kind == tokPunct && dot.text == "." {
			if _, ok := sc.next(); !ok {
				return insertSplit{}, false
			}
		} else {
			sc.pos = save
		}
	}
	for {
		t, ok := sc.next()
		if !ok {
			return insertSplit{}, false
		}
		switch {
		case t.kind == tokPunct && t.text == "(":
			depth++
		case t.kind == tokPunct && t.text == ")":
			depth--
		case depth != 0:
		case t.is("SELECT") || t.is("WITH"):
			return insertSplit{}, false
		case t.is("VALUES"):
			return insertSplit{head: strings.TrimSpace(sql[:t.start]), format: "Values", dataStart: t.end}, true
		case t.is("FORMAT"):
			name, ok := sc.next()
			if !ok || name.kind != tokWord && name.kind != tokQuoted {
				return insertSplit{}, false
			}
			i := name.end
			for i < len(sql) && (sql[i] == ' ' || sql[i] == '\t') {
				i++
			}
			if strings.HasPrefix(sql[i:], "\r\n") {
				i += 2
			} else if strings.HasPrefix(sql[i:], "\n") {
				i++
			}
			return insertSplit{head: strings.TrimSpace(sql[:t.start]), format: name.text, dataStart: i}, true
		}
	}
}

// formatClause returns the output format a query names in its own FORMAT clause, which takes
// precedence over default_format. It looks for FORMAT name at the top level, followed by the end
// of the query, a semicolon or SETTINGS.
func formatClause(sql string) (string, bool) {
	sc := scanner{s: sql}
	var toks []token
	depth := 0
	for {
		t, ok := sc.next()
		if !ok {
			break
		}
		switch {
		case t.kind == tokPunct && t.text == "(":
			depth++
		case t.kind == tokPunct && t.text == ")":
			depth--
		case depth == 0:
			toks = append(toks, t)
		}
	}
	for i := len(toks) - 2; i >= 0; i-- {
		if !toks[i].is("FORMAT") || toks[i+1].kind != tokWord && toks[i+1].kind != tokQuoted {
			continue
		}
		if i+2 == len(toks) || toks[i+2].kind == tokPunct && toks[i+2].text == ";" || toks[i+2].is("SETTINGS") {
			return toks[i+1].text, true
		}
	}
	return "", false
}
