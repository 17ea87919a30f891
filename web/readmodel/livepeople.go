package readmodel

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/chatnight/chatnight/pipeline/live"
	"github.com/chatnight/chatnight/pipeline/segments"
	"github.com/chatnight/chatnight/pipeline/storage"
	"github.com/chatnight/chatnight/web/redact"
)

// maxPeopleCached bounds the accounts a PeopleResolver remembers; each answer is asked
// again after recheckFirst, as a new link or bio may have been stored since.
const maxPeopleCached = 20000

// accountPerson is what a PeopleResolver knows of an account: its person (with every
// account of the person, to apply opt-outs) and its own segments.
type accountPerson struct {
	person   string
	accounts []string // the person's accounts; nil for an account linked to no other
	why      []string
	segments []segments.Assignment
	at       time.Time
}

// PeopleResolver tells the hub (hub.Options.People) who the authors of live posts
// are: their person, by the same mapping the read model's stats apply (Store.Mapping),
// and their segments, so the viewer's leaderboard counts people as the API does.
// Answers are cached for recheckFirst.
type PeopleResolver struct {
	store *Store
	log   *slog.Logger
	wait  time.Duration

	mu    sync.Mutex
	cache map[string]accountPerson // community + "\x00" + account
}

// NewPeopleResolver resolves through st, waiting at most wait for ClickHouse per
// message.
func NewPeopleResolver(st *Store, wait time.Duration, log *slog.Logger) *PeopleResolver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PeopleResolver{store: st, log: log, wait: wait, cache: map[string]accountPerson{}}
}

// People returns the person of each of accounts of community, with r applied: a
// person with an opted-out account is hidden, named by the pseudonym the API gives
// them, with no segment and no links. An account that cannot be looked up is left out
// (logged), and so is an account that is a person of its own with no segment: the
// viewer counts an account it is told nothing of as a person of its own.
func (pr *PeopleResolver) People(ctx context.Context, community string, accounts []string, r *redact.Redactor) map[string]*live.Person {
	now := time.Now()
	known := make(map[string]accountPerson, len(accounts))
	var missing []string
	pr.mu.Lock()
	for _, a := range accounts {
		if a == "" {
			continue
		}
		if c, ok := pr.cache[community+"\x00"+a]; ok && now.Sub(c.at) < recheckFirst {
			known[a] = c
		} else if _, dup := known[a]; !dup && !contains(missing, a) {
			missing = append(missing, a)
		}
	}
	pr.mu.Unlock()
	if len(missing) > 0 {
		ctx, cancel := context.WithTimeout(ctx, pr.wait)
		defer cancel()
		got, err := pr.lookUp(ctx, community, missing, now)
		if err != nil {
			pr.log.Warn("resolving the people of live posts failed", "community", community, "accounts", len(missing), "err", err)
		}
		pr.mu.Lock()
		if len(pr.cache)+len(got) > maxPeopleCached {
			clear(pr.cache)
		}
		for a, c := range got {
			pr.cache[community+"\x00"+a] = c
			known[a] = c
		}
		pr.mu.Unlock()
	}
	out := make(map[string]*live.Person, len(known))
	for a, c := range known {
		if p := c.shown(a, r); p != nil {
			out[a] = p
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lookUp reads the persons and segments of accounts.
func (pr *PeopleResolver) lookUp(ctx context.Context, community string, accounts []string, now time.Time) (map[string]accountPerson, error) {
	m, err := pr.store.Mapping(ctx, accounts)
	if err != nil {
		return nil, err
	}
	sort.Strings(accounts)
	var rows []struct {
		AccountID string   `ch:"account_id"`
		Segments  []string `ch:"segments"`
		Reasons   []string `ch:"reasons"`
	}
	p := params{"community": community, "accounts": storage.ArrayParam(accounts)}
	if err := pr.store.conn.Select(pr.store.ctx(ctx, p), &rows, querySegments); err != nil {
		return nil, err
	}
	out := make(map[string]accountPerson, len(accounts))
	for _, a := range accounts {
		c := accountPerson{person: m.Of(a), at: now}
		if person := m.Person(c.person); person != nil {
			c.accounts, c.why = person.Accounts, person.Why
		}
		out[a] = c
	}
	for _, row := range rows {
		c := out[row.AccountID]
		for j, seg := range row.Segments {
			reason := ""
			if j < len(row.Reasons) {
				reason = row.Reasons[j]
			}
			c.segments = append(c.segments, segments.Assignment{Segment: seg, Reason: reason})
		}
		out[row.AccountID] = c
	}
	return out, nil
}

// shown is the live form of account's person, with r applied.
func (c accountPerson) shown(account string, r *redact.Redactor) *live.Person {
	hidden := r.Hidden(account, "")
	for _, a := range c.accounts {
		hidden = hidden || r.Hidden(a, "")
	}
	if hidden {
		return &live.Person{ID: r.Pseudonym(c.person), Hidden: true}
	}
	if len(c.accounts) == 0 && len(c.segments) == 0 {
		return nil // a person of one account, with no segment: nothing to say
	}
	p := &live.Person{ID: c.person, Why: c.why}
	for _, s := range c.segments {
		p.Segments = append(p.Segments, live.Segment{Segment: s.Segment, Reason: s.Reason})
	}
	return p
}
