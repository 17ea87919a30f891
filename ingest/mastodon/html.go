package mastodon

import (
	"io"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Link is an <a> element found in status HTML.
type Link struct {
	Href  string
	Text  string
	Class []string // the class attribute split on spaces
	Rel   []string // the rel attribute split on spaces
}

// IsMentionOrTag reports whether Mastodon (or Pleroma, Misskey, GoToSocial, which use
// the same microformats) marks the link as an @mention or a #hashtag rather than a
// link the author shared.
func (l Link) IsMentionOrTag() bool {
	return slices.Contains(l.Class, "mention") || slices.Contains(l.Class, "hashtag") ||
		slices.Contains(l.Rel, "tag")
}

// HTMLToText converts status HTML to plain text: paragraphs and <br> become line
// breaks, links become their text, entities are decoded, and no markup survives.
// Script, style and similar elements are dropped with their content, as is Mastodon's
// "RE: <link>" fallback paragraph of quote posts (class quote-inline).
func HTMLToText(s string) string {
	text, _ := convertHTML(s)
	return text
}

// convertHTML returns the plain text of s and the links in it, in document order.
func convertHTML(s string) (string, []Link) {
	c := converter{}
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				// The tokenizer only fails on read errors, which a strings.Reader has none of.
				return strings.TrimFunc(c.b.String(), isSpace), c.links
			}
			c.endLink()
			// Only <pre> can leave whitespace at the ends.
			return strings.TrimFunc(c.b.String(), isSpace), c.links
		case html.TextToken:
			if c.skip == "" {
				c.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			c.start(z, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			c.end(string(name))
		}
	}
}

// skipped elements are dropped with everything inside them.
var skipped = map[string]bool{
	"script": true, "style": true, "template": true, "head": true, "title": true,
	"iframe": true, "object": true, "embed": true, "noscript": true, "noembed": true,
	"noframes": true, "textarea": true, "select": true, "svg": true, "math": true,
	"plaintext": true, "xmp": true, "applet": true, "frameset": true,
}

// paragraph elements are separated from their surroundings by a blank line, line
// elements by a line break.
var (
	paragraph = map[string]bool{
		"p": true, "blockquote": true, "pre": true, "ul": true, "ol": true, "dl": true,
		"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
		"hr": true, "table": true, "figure": true, "section": true, "article": true,
		"header": true, "footer": true, "aside": true, "address": true, "details": true,
	}
	line = map[string]bool{
		"div": true, "li": true, "dt": true, "dd": true, "tr": true, "summary": true,
		"figcaption": true, "caption": true,
	}
)

type converter struct {
	b        strings.Builder
	breaks   int  // line breaks owed before the next text (at most 2)
	space    bool // a space is owed before the next text
	pre      int  // depth of <pre>
	skip     string
	skipDeep int

	links  []Link
	inLink bool
	link   Link
	linkB  strings.Builder
}

func (c *converter) start(z *html.Tokenizer, selfClosing bool) {
	nameB, hasAttr := z.TagName()
	name := string(nameB)
	if c.skip != "" {
		if name == c.skip && !selfClosing {
			c.skipDeep++
		}
		return
	}
	var class, rel []string
	var href string
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "class":
			class = strings.Fields(string(v))
		case "rel":
			rel = strings.Fields(string(v))
		case "href":
			href = strings.TrimSpace(string(v))
		}
	}
	if skipped[name] || slices.Contains(class, "quote-inline") {
		if !selfClosing && !voidElement[name] {
			c.skip, c.skipDeep = name, 1
		}
		return
	}
	if name == "br" {
		c.lineBreak(1, true)
	} else {
		c.blockBreak(name)
	}
	switch name {
	case "pre":
		if !selfClosing {
			c.pre++
		}
	case "a":
		c.endLink()
		if !selfClosing {
			c.inLink = true
			c.link = Link{Href: href, Class: class, Rel: rel}
			c.linkB.Reset()
		}
	}
}

// blockBreak breaks the line where an element that stands on its own lines starts or
// ends; a paragraph leaves a blank line.
func (c *converter) blockBreak(name string) {
	switch {
	case paragraph[name]:
		c.lineBreak(2, false)
	case line[name]:
		c.lineBreak(1, false)
	}
}

func (c *converter) end(name string) {
	if c.skip != "" {
		if name == c.skip {
			c.skipDeep--
			if c.skipDeep == 0 {
				c.skip = ""
			}
		}
		return
	}
	c.blockBreak(name)
	switch name {
	case "pre":
		if c.pre > 0 {
			c.pre--
		}
	case "a":
		c.endLink()
	}
}

func (c *converter) endLink() {
	if !c.inLink {
		return
	}
	c.inLink = false
	c.link.Text = strings.TrimSpace(c.linkB.String())
	c.links = append(c.links, c.link)
}

// lineBreak owes n line breaks: a <br> adds one, a block boundary makes sure of n.
// Breaks at the very start are dropped, and more than two in a row are one blank line.
func (c *converter) lineBreak(n int, add bool) {
	if c.b.Len() == 0 {
		return
	}
	c.space = false
	if add {
		n += c.breaks
	}
	c.breaks = min(max(c.breaks, n), 2)
}

// flush writes what is owed before more text.
func (c *converter) flush() {
	if c.b.Len() > 0 {
		if c.breaks > 0 {
			c.b.WriteString("\n\n"[:c.breaks])
		} else if c.space {
			c.b.WriteByte(' ')
		}
	}
	c.breaks, c.space = 0, false
}

func (c *converter) text(t string) {
	if c.pre > 0 {
		if t == "" {
			return
		}
		c.flush()
		c.b.WriteString(t)
		if c.inLink {
			c.linkB.WriteString(t)
		}
		return
	}
	for {
		i := strings.IndexFunc(t, isSpace)
		word := t
		if i >= 0 {
			word = t[:i]
		}
		if word != "" {
			c.flush()
			c.b.WriteString(word)
			if c.inLink {
				c.linkB.WriteString(word)
			}
		}
		if i < 0 {
			return
		}
		if c.b.Len() > 0 && c.breaks == 0 {
			c.space = true
		}
		if c.inLink {
			c.linkB.WriteByte(' ')
		}
		t = strings.TrimLeftFunc(t[i:], isSpace)
	}
}

// isSpace is HTML's ASCII whitespace, which a browser collapses.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

var voidElement = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true,
	"track": true, "wbr": true,
}
