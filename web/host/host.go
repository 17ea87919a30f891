package host

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/readmodel"
	"github.com/chatnight/chatnight/web/redact"
)

// Account names an account.
type Account struct {
	AuthorID string `json:"author_id"`
	Handle   string `json:"handle"`
}

// Question is a host's question with who answered it.
type Question struct {
	Number    int       `json:"number"`
	PostID    string    `json:"post_id"`
	AuthorID  string    `json:"author_id"`
	Handle    string    `json:"handle"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Answers   int       `json:"answers"`   // answer posts
	Answerers []Account `json:"answerers"` // their authors, in order of first answer
}

// Waiting is a post nobody has replied to yet.
type Waiting struct {
	PostID    string    `json:"post_id"`
	AuthorID  string    `json:"author_id"`
	Handle    string    `json:"handle"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Newcomer  bool      `json:"newcomer"`
	WaitingS  int64     `json:"waiting_s"` // seconds since it was posted (see View.At)
}

// View is what the host console shows of a session.
type View struct {
	Session readmodel.Session `json:"session"`
	// At is the moment waiting times are measured at: now, or for a session long over
	// an hour after its end (or last post).
	At           time.Time  `json:"at"`
	WaitingAfter float64    `json:"waiting_after_s"`
	Questions    []Question `json:"questions"` // newest first
	Waiting      []Waiting  `json:"waiting"`   // newcomers first, then oldest first
	Newcomers    []Newcomer `json:"newcomers"` // in order of first post
}

// reviewAfter is how long after its end a session stops being measured against now.
const reviewAfter = time.Hour

// HostView computes the host console of sess from its transcript posts (opted-out
// accounts already dropped) at now.
func (rd *Reader) HostView(ctx context.Context, cm *community.Community, sess readmodel.Session, posts []readmodel.Post, now time.Time, r *redact.Redactor) (*View, error) {
	waitingAfter := cm.WaitingAfter
	if waitingAfter <= 0 {
		waitingAfter = community.DefaultWaitingAfter
	}
	_, newcomers, err := rd.SessionWelcome(ctx, cm, readmodel.Session{ID: sess.ID, Community: sess.Community, Start: sess.Start,
		End: sess.End, Kind: sess.Kind, Cells: sess.Cells}, r)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(newcomers, func(i, j int) bool { return newcomers[i].FirstPostAt.Before(newcomers[j].FirstPostAt) })
	v := &View{Session: sess, WaitingAfter: waitingAfter.Seconds(), Newcomers: newcomers,
		Questions: questions(posts, cm.HasHosts()), Waiting: []Waiting{}}
	last := sess.End
	for _, p := range posts {
		if p.CreatedAt.After(last) {
			last = p.CreatedAt
		}
	}
	v.At = now.UTC()
	if limit := last.Add(reviewAfter); v.At.After(limit) {
		v.At = limit.UTC()
	}
	isNew := map[string]bool{}
	for _, n := range newcomers {
		isNew[n.AuthorID] = true
	}
	replied := map[string]bool{}
	authorOf := map[string]string{}
	for _, p := range posts {
		authorOf[p.ID] = p.AuthorID
	}
	for _, p := range posts {
		if p.ReplyToID != "" && authorOf[p.ReplyToID] != p.AuthorID {
			replied[p.ReplyToID] = true
		}
	}
	for _, p := range posts {
		age := v.At.Sub(p.CreatedAt)
		if p.IsHost || p.Kind == "repost" || replied[p.ID] || age < waitingAfter {
			continue
		}
		v.Waiting = append(v.Waiting, Waiting{PostID: p.ID, AuthorID: p.AuthorID, Handle: p.AuthorHandle, Text: p.Text,
			CreatedAt: p.CreatedAt, Newcomer: isNew[p.AuthorID], WaitingS: int64(age / time.Second)})
	}
	sort.SliceStable(v.Waiting, func(i, j int) bool {
		a, b := v.Waiting[i], v.Waiting[j]
		if a.Newcomer != b.Newcomer {
			return a.Newcomer
		}
		return a.CreatedAt.Before(b.CreatedAt)
	})
	return v, nil
}

// questions lists the questions of posts (the hosts' only, when the community has
// hosts), newest first, each counted with its answers.
func questions(posts []readmodel.Post, hostsOnly bool) []Question {
	byNum := map[int]*Question{}
	seen := map[int]map[string]bool{}
	for _, p := range posts {
		for _, m := range p.Marks {
			if m.Kind != "question" || (hostsOnly && !p.IsHost) {
				continue
			}
			if _, ok := byNum[m.Number]; !ok {
				byNum[m.Number] = &Question{Number: m.Number, PostID: p.ID, AuthorID: p.AuthorID, Handle: p.AuthorHandle,
					Text: p.Text, CreatedAt: p.CreatedAt, Answerers: []Account{}}
				seen[m.Number] = map[string]bool{}
			}
		}
	}
	for _, p := range posts {
		for _, m := range p.Marks {
			q := byNum[m.Number]
			if m.Kind != "answer" || q == nil || p.ID == q.PostID {
				continue
			}
			q.Answers++
			if !seen[m.Number][p.AuthorID] {
				seen[m.Number][p.AuthorID] = true
				q.Answerers = append(q.Answerers, Account{AuthorID: p.AuthorID, Handle: p.AuthorHandle})
			}
		}
	}
	out := make([]Question, 0, len(byNum))
	for _, q := range byNum {
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].Number > out[j].Number
	})
	return out
}

// MaxParents bounds the posts one Parents call reads.
const MaxParents = 100

// Parent is a stored post as a reply quotes it.
type Parent struct {
	ID        string    `json:"id" ch:"id"`
	AuthorID  string    `json:"author_id" ch:"author_id"`
	Handle    string    `json:"author_handle" ch:"author_handle"`
	Name      string    `json:"author_name,omitempty" ch:"author_name"`
	CreatedAt time.Time `json:"created_at" ch:"created_at"`
	Text      string    `json:"text" ch:"text"`
	Source    string    `json:"source" ch:"source"`
	URL       string    `json:"url,omitempty" ch:"url"`
}

// Parents reads the stored posts of community among ids (at most MaxParents); posts of
// opted-out accounts are left out, as if not stored.
func (rd *Reader) Parents(ctx context.Context, communityID string, ids []string, r *redact.Redactor) ([]Parent, error) {
	if len(ids) > MaxParents {
		return nil, fmt.Errorf("at most %d posts at once", MaxParents)
	}
	out := []Parent{}
	if len(ids) == 0 {
		return out, nil
	}
	p := clickhouse.Parameters{"community": communityID, "ids": storage.ArrayParam(ids)}
	var rows []Parent
	if err := rd.conn.Select(clickhouse.Context(ctx, clickhouse.WithParameters(p)), &rows, queryPostsByID); err != nil {
		return nil, fmt.Errorf("read posts by id: %w", err)
	}
	for _, row := range rows {
		if r.Hidden(row.AuthorID, row.Handle) {
			continue
		}
		row.CreatedAt = row.CreatedAt.UTC()
		row.Text = r.Text(row.Text)
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
