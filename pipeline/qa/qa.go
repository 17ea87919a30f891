// Package qa finds tweetchat marks in posts: hosts ask numbered questions ("Q1: ..."),
// participants answer them ("A1: ..."), and hosts may announce topics ("T1 ...").
//
// # What is a mark
//
// A mark is a letter Q, A or T followed by a number from 1 to 99:
//
//   - "Q1", "Q1:", "Q1.", "Q1)", "Q1/", "A1 & A2", "A2/A3", "A1, A2": the compact form,
//     anywhere in the text, upper or lower case ("a1:").
//   - "Q 1", "A 1": one space between letter and number, upper case, only at the start of
//     the text (after leading @mentions), where it cannot be "plan A 1 more time".
//   - "Question 1", "Answer 2", "Topic 3", "Ans 1", "Ans. 1", any case, optional space or
//     "#" before the number: only at the start of the text (after leading @mentions).
//   - "Q.1", "Q-1", "Q#1", "A.1", "A-1", "A#1", "T.1", "T#1": one separator between
//     letter and number, as hosts and participants write them (tweetchat guides show
//     "Q1"/"A1"; transcripts show all of these). At the start of the text in any case;
//     elsewhere upper case and followed by ":" or ")" ("Good one! A-2: ..."), since
//     "grade A-1" or "section A.1" is prose. "T-1" is not a topic: it counts down.
//
// Full-width letters, digits and punctuation ("Ａ１：") are folded to ASCII first.
//
// The mark must start a word: it is at the start of the text, or follows white space or
// one of ( [ { " “ ‘ , ; : . ! ? / & + * • | > — – …. So "#A1C", "@A1", "HbA1c" and
// "tqa1" are not marks. Tokens that are URLs (containing "://" or starting "www.") are
// skipped whole.
//
// A question or topic mark that is not at the start must be followed by punctuation
// ("Welcome! Q1: ..."), not by white space: hosts talk about questions too ("still
// thinking about Q3 answers"). Answers are looser ("A1 & A2 both ...").
//
// The number must end the word: it is followed by the end, white space or punctuation.
// A following letter or digit rejects it ("A1C", "Q100", "T1D"), and so does
// punctuation followed by a digit ("Q1.5", "A1:30", "Q1/2024", "A1,000", "Q4'24") or an
// apostrophe followed by a letter ("Q1's answers" talks about Q1) or a hyphen followed
// by a letter or digit ("A1-C", "Q1-2025"). Ranges such as "A1-A3" are not expanded.
//
// Quarters: "Q1 2024", "Q3 FY25", "2024 Q1" and "FY24 Q1" are business quarters, not
// questions: a Q mark numbered 1 to 4 right after a year or fiscal-year token ("2024",
// not "2024."), or right before one, is dropped. This is a guess: a host writing "Q2 2025 was ..." as a
// question loses it, which is rarer than participants quoting quarterly results.
//
// # Who may mark what
//
// ForPost applies the tweetchat roles: questions and topics count only from hosts
// (community.IsHost on the post's network), or from anyone when the community has no
// hosts; answers count from anyone. A repost carries no marks, and neither does a
// manual retweet ("RT @host: Q1 ..."): quoting a question does not ask it again.
package qa

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/post"
	"github.com/chatnight/chatnight/pipeline/storage"
)

// Kind is the kind of mark, as stored in qa_marks.kind.
type Kind string

const (
	Question Kind = "question"
	Answer   Kind = "answer"
	Topic    Kind = "topic"
)

// MaxNumber is the highest mark number.
const MaxNumber = 99

// Mark is one mark found in a text.
type Mark struct {
	Kind   Kind
	Number int
	// Start and End are the byte offsets of the mark in the text, e.g. of "Q1" or
	// "Question 1" (without the punctuation after it).
	Start, End int
}

// char is a folded rune and the byte offset of the original rune.
type char struct {
	r   rune
	off int
}

// fold maps full-width ASCII variants and the ideographic space to ASCII.
func fold(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	}
	return r
}

// Parse returns the marks of text in text order, whoever wrote it. The same mark may
// appear more than once.
func Parse(text string) []Mark {
	cs := make([]char, 0, len(text))
	for off, r := range text {
		cs = append(cs, char{fold(r), off})
	}
	p := parser{cs: cs, text: text}
	p.markURLs()
	var marks []Mark
	start := p.leadStart()
	for i := 0; i < len(cs); i++ {
		if p.skip[i] || !p.wordStart(i) {
			continue
		}
		if m, next, ok := p.markAt(i, i == start); ok {
			marks = append(marks, m)
			i = next - 1
		}
	}
	return marks
}

type parser struct {
	cs   []char
	text string
	skip []bool // inside a URL token
}

func (p *parser) at(i int) rune {
	if i < 0 || i >= len(p.cs) {
		return 0
	}
	return p.cs[i].r
}

func (p *parser) offset(i int) int {
	if i >= len(p.cs) {
		return len(p.text)
	}
	return p.cs[i].off
}

// markURLs flags the runes of tokens that are URLs.
func (p *parser) markURLs() {
	p.skip = make([]bool, len(p.cs))
	for i := 0; i < len(p.cs); {
		if unicode.IsSpace(p.cs[i].r) {
			i++
			continue
		}
		j := i
		for j < len(p.cs) && !unicode.IsSpace(p.cs[j].r) {
			j++
		}
		tok := strings.ToLower(p.textOf(i, j))
		if strings.Contains(tok, "://") || strings.HasPrefix(strings.TrimLeft(tok, "(<\"'"), "www.") {
			for k := i; k < j; k++ {
				p.skip[k] = true
			}
		}
		i = j
	}
}

// textOf is the folded text of runes [i, j).
func (p *parser) textOf(i, j int) string {
	var b strings.Builder
	for k := i; k < j && k < len(p.cs); k++ {
		b.WriteRune(p.cs[k].r)
	}
	return b.String()
}

// leadStart is the index of the first rune after leading white space and @mentions.
func (p *parser) leadStart() int {
	i := 0
	for {
		for i < len(p.cs) && unicode.IsSpace(p.cs[i].r) {
			i++
		}
		if i < len(p.cs) && (p.cs[i].r == '@' || (p.cs[i].r == '.' && p.at(i+1) == '@')) {
			for i < len(p.cs) && !unicode.IsSpace(p.cs[i].r) {
				i++
			}
			continue
		}
		return i
	}
}

// wordStart reports whether a mark may start at i.
func (p *parser) wordStart(i int) bool {
	if i == 0 {
		return true
	}
	prev := p.cs[i-1].r
	if unicode.IsSpace(prev) {
		return true
	}
	switch prev {
	case '(', '[', '{', '"', '“', '‘', ',', ';', ':', '.', '!', '?', '/', '&', '+', '*', '•', '|', '>', '—', '–', '…':
		return true
	}
	return false
}

var words = []struct {
	word string
	kind Kind
}{{"question", Question}, {"answer", Answer}, {"topic", Topic}, {"ans", Answer}}

// markAt parses a mark starting at i; atStart allows the spaced and word forms. It
// returns the index after the mark.
func (p *parser) markAt(i int, atStart bool) (Mark, int, bool) {
	var kind Kind
	separated := false // "Q-1" away from the start: it must end in ":" or ")"
	j := i
	switch r := p.at(i); {
	case atStart && (r == 'q' || r == 'Q' || r == 'a' || r == 'A' || r == 't' || r == 'T') && p.wordAt(i) != "":
		w := p.wordAt(i)
		for _, ww := range words {
			if ww.word == w {
				kind = ww.kind
			}
		}
		j = i + len(w)
		if p.at(j) == '.' && w == "ans" {
			j++
		}
		if p.at(j) == ' ' {
			j++
		}
		if p.at(j) == '#' {
			j++
		}
	case r == 'Q' || r == 'A' || r == 'T':
		kind = kindOf(r)
		j = i + 1
		if atStart && p.at(j) == ' ' && isDigit(p.at(j+1)) {
			j++
		}
		if p.separator(kind, j) {
			j++
			separated = !atStart
		}
	case r == 'q' || r == 'a' || r == 't':
		kind = kindOf(r)
		j = i + 1
		if atStart && p.separator(kind, j) {
			j++
		}
	default:
		return Mark{}, 0, false
	}
	if kind == "" || !isDigit(p.at(j)) {
		return Mark{}, 0, false
	}
	n := int(p.at(j) - '0')
	j++
	if isDigit(p.at(j)) {
		n = n*10 + int(p.at(j)-'0')
		j++
	}
	if n < 1 || n > MaxNumber || !p.wordEnd(j) {
		return Mark{}, 0, false
	}
	if kind != Answer && !atStart && (j >= len(p.cs) || unicode.IsSpace(p.at(j))) {
		return Mark{}, 0, false // "still thinking about Q3 answers"
	}
	if separated && p.at(j) != ':' && p.at(j) != ')' {
		return Mark{}, 0, false // "grade A-1", "section A.1"
	}
	if kind == Topic && p.diagnosis(j) {
		return Mark{}, 0, false // "T1 diabetes"
	}
	if kind == Question && n <= 4 && p.quarter(i, j) {
		return Mark{}, 0, false
	}
	return Mark{Kind: kind, Number: n, Start: p.offset(i), End: p.offset(j)}, j, true
}

// separator reports whether j holds a separator between a mark's letter and its
// number ("Q.1", "Q-1", "Q#1"), followed by a digit. A topic takes no "-": "T-1" is a
// countdown.
func (p *parser) separator(kind Kind, j int) bool {
	switch p.at(j) {
	case '.', '#':
	case '-', '–':
		if kind == Topic {
			return false
		}
	default:
		return false
	}
	return isDigit(p.at(j + 1))
}

// diagnosis reports whether the word after a T mark ending at j makes it a diagnosis
// ("T1 diabetes", "T2 DM"), which diabetes chats write at the start of posts.
func (p *parser) diagnosis(j int) bool {
	if p.at(j) != ' ' {
		return false
	}
	switch strings.ToLower(p.tokenAt(j + 1)) {
	case "diabetes", "diabetic", "diabetics", "dm", "dm1", "dm2", "diabetes'":
		return true
	}
	return false
}

// wordAt returns "question", "answer", "topic" or "ans" when that word (any case) starts at i.
func (p *parser) wordAt(i int) string {
	for _, w := range words {
		if i+len(w.word) > len(p.cs) {
			continue
		}
		ok := true
		for k, c := range w.word {
			if unicode.ToLower(p.cs[i+k].r) != c {
				ok = false
				break
			}
		}
		if ok && !isLetter(p.at(i+len(w.word))) {
			return w.word
		}
	}
	return ""
}

// wordEnd reports whether the number of a mark may end before j.
func (p *parser) wordEnd(j int) bool {
	if j >= len(p.cs) {
		return true
	}
	r, next := p.cs[j].r, p.at(j+1)
	switch {
	case unicode.IsSpace(r):
		return true
	case isDigit(r) || isLetter(r) || r == '_' || r == '%' || r == '#' || r == '@' || r == '$':
		return false
	case r == '.' || r == ',' || r == ':' || r == '/':
		return !isDigit(next)
	case r == '-' || r == '\'' || r == '’':
		return !isDigit(next) && !isLetter(next)
	}
	return unicode.IsPunct(r) || unicode.IsSymbol(r)
}

// quarter reports whether the Q mark at [i, j) reads as a business quarter: a year or
// fiscal-year token right before or right after it.
func (p *parser) quarter(i, j int) bool {
	// after: "Q1 2024", "Q1 FY25", "Q1-2024" is already rejected by wordEnd
	k := j
	if p.at(k) == ' ' {
		k++
	}
	if yearToken(p.tokenAt(k), true) {
		return true
	}
	// before: "2024 Q1", "FY24 Q1", but not "in 2026. Q1:"
	k = i - 1
	if k >= 0 && p.at(k) == ' ' {
		e := k
		for k > 0 && !unicode.IsSpace(p.at(k-1)) {
			k--
		}
		return yearToken(p.textOf(k, e), false)
	}
	return false
}

// tokenAt is the folded text from i up to white space or punctuation other than "'".
func (p *parser) tokenAt(i int) string {
	j := i
	for j < len(p.cs) && (isDigit(p.cs[j].r) || isLetter(p.cs[j].r) || p.cs[j].r == '\'') {
		j++
	}
	return p.textOf(i, j)
}

// yearToken matches "2024", "'24", "FY24", "FY2024" (any case), with trailing
// punctuation ignored when trim is set.
func yearToken(tok string, trim bool) bool {
	if trim {
		tok = strings.TrimRightFunc(tok, func(r rune) bool { return unicode.IsPunct(r) && r != '\'' })
	}
	upper := strings.ToUpper(tok)
	switch {
	case strings.HasPrefix(upper, "FY"):
		d := upper[2:]
		return (len(d) == 2 || len(d) == 4) && allDigits(d)
	case strings.HasPrefix(tok, "'"):
		return len(tok) == 3 && allDigits(tok[1:])
	default:
		return len(tok) == 4 && allDigits(tok) && (tok[:2] == "19" || tok[:2] == "20")
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func kindOf(r rune) Kind {
	switch unicode.ToUpper(r) {
	case 'Q':
		return Question
	case 'A':
		return Answer
	case 'T':
		return Topic
	}
	return ""
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) && !isDigit(r) }

// MayAsk reports whether an account with handle on network may ask questions and set
// topics in cm: hosts, or anyone when cm has no hosts (or is unknown).
func MayAsk(cm *community.Community, network, handle string) bool {
	return cm == nil || !cm.HasHosts() || cm.IsHost(network, handle)
}

// ForPost returns the marks of p that count under the tweetchat roles (see the package
// comment), one per kind and number, in text order.
func ForPost(p *post.Post, cm *community.Community) []Mark {
	if p.Kind == post.KindRepost || p.RepostOfID != "" || IsManualRetweet(p.Text) {
		return nil
	}
	ask := MayAsk(cm, p.Network(), p.Author.Handle)
	return filter(Parse(p.Text), ask)
}

// ForRow is ForPost for a stored post.
func ForRow(r *storage.PostRow, cm *community.Community) []Mark {
	if r.Kind == string(post.KindRepost) || r.RepostOfID != "" || IsManualRetweet(r.Text) {
		return nil
	}
	network, _, _ := strings.Cut(r.ID, ":")
	return filter(Parse(r.Text), r.IsHost || MayAsk(cm, network, r.AuthorHandle))
}

func filter(marks []Mark, ask bool) []Mark {
	out := marks[:0]
	type key struct {
		k Kind
		n int
	}
	seen := map[key]bool{}
	for _, m := range marks {
		if (m.Kind == Question || m.Kind == Topic) && !ask {
			continue
		}
		if seen[key{m.Kind, m.Number}] {
			continue
		}
		seen[key{m.Kind, m.Number}] = true
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// IsManualRetweet reports whether text is an old-style retweet: "RT @handle ...", after
// leading white space.
func IsManualRetweet(text string) bool {
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	if len(t) < 4 {
		return false
	}
	r, size := utf8.DecodeRuneInString(t)
	r2, size2 := utf8.DecodeRuneInString(t[size:])
	if fold(r) != 'R' && fold(r) != 'r' || fold(r2) != 'T' && fold(r2) != 't' {
		return false
	}
	rest := strings.TrimLeftFunc(t[size+size2:], func(r rune) bool { return unicode.IsSpace(r) || r == ':' })
	return len(rest) < len(t[size+size2:]) && (strings.HasPrefix(rest, "@") || strings.HasPrefix(rest, "＠"))
}

// QuestionNumber returns the number a reply to r answers when the reply has no
// numbered answer of its own: r must ask exactly one question.
func QuestionNumber(r *storage.PostRow, cm *community.Community) (int, bool) {
	n := 0
	for _, m := range ForRow(r, cm) {
		if m.Kind != Question {
			continue
		}
		if n != 0 {
			return 0, false
		}
		n = m.Number
	}
	return n, n != 0
}

// Rows returns the qa_marks rows of marks found in the post row r.
func Rows(r *storage.PostRow, marks []Mark, version uint64) []storage.QAMarkRow {
	rows := make([]storage.QAMarkRow, 0, len(marks))
	for _, m := range marks {
		rows = append(rows, storage.QAMarkRow{
			Community: r.Community, SessionID: r.SessionID, Kind: string(m.Kind), Number: uint16(m.Number),
			PostID: r.ID, AuthorID: r.AuthorID, CreatedAt: r.CreatedAt, ReplyToID: r.ReplyToID, Version: version,
		})
	}
	return rows
}
