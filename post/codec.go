package post

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// A posts-stream message body is JSON Lines: one canonical post per line. Live
// ingestors send one post per message; bulk paths (import, simulator, bench) send many
// per message to go past JetStream's message rate, with a stable batch id as Nats-Msg-Id.

// Encode appends the wire form of posts to dst.
func Encode(dst []byte, posts ...*Post) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	for _, p := range posts {
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("encode post %q: %w", p.ID, err)
		}
	}
	return buf.Bytes(), nil
}

// BadLine is a line of a message body that is not a valid post.
type BadLine struct {
	Line int    // 1-based line number within the message
	Raw  []byte // the line as received
	Err  error
}

// Decode splits a message body into posts and bad lines. A bad line never hides the
// good posts around it.
func Decode(body []byte) (posts []*Post, bad []BadLine) {
	line := 0
	for len(body) > 0 {
		var raw []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			raw, body = body, nil
		}
		line++
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		p := new(Post)
		if err := json.Unmarshal(raw, p); err != nil {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: fmt.Errorf("decode post: %w", err)})
			continue
		}
		if err := p.Validate(); err != nil {
			bad = append(bad, BadLine{Line: line, Raw: raw, Err: err})
			continue
		}
		p.Normalize()
		posts = append(posts, p)
	}
	return posts, bad
}

// Validate reports what makes a post unusable.
func (p *Post) Validate() error {
	switch {
	case p.ID == "":
		return fmt.Errorf("post has no id")
	case p.Community == "":
		return fmt.Errorf("post %q has no community", p.ID)
	case p.Author.ID == "":
		return fmt.Errorf("post %q has no author id", p.ID)
	case p.CreatedAt.IsZero():
		return fmt.Errorf("post %q has no created_at", p.ID)
	}
	switch p.Source {
	case SourceX, SourceMastodon, SourceBluesky, SourceImport, SourceSim:
	default:
		return fmt.Errorf("post %q has unknown source %q", p.ID, p.Source)
	}
	return nil
}
