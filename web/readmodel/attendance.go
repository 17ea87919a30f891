package readmodel

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/chatnight/chatnight/pipeline/people"
)

// Later is how many sessions after a session retention looks at.
const Later = 4

// Attendance is who took part in a run of a community's sessions: the sessions of a
// period and up to Later after it, each with its authors, newcomers marked by the one
// newcomer rule (the author's first post in the community is in that session).
type Attendance struct {
	Sessions []Session // in time order: the period's, then those after it
	Period   int       // how many of Sessions are in the period
	Counts   map[string]Counts
	Authors  map[string][]SessionAuthor // by session id, one per person (see people.go)
	People   *people.Mapping            // the account -> person mapping Authors used
}

// Attendance reads the sessions of community that started in [from, to) (at most
// MaxPeriodSessions) and up to Later after them, with their authors.
func (s *Store) Attendance(ctx context.Context, community string, from, to time.Time) (*Attendance, error) {
	all, err := s.list(ctx, querySessionsFrom, params{"community": community, "from": chTime(from),
		"limit": strconv.Itoa(MaxPeriodSessions + Later)}, false)
	if err != nil {
		return nil, fmt.Errorf("read sessions of %s: %w", community, err)
	}
	n := 0
	for n < len(all) && all[n].Start.Before(to) && n < MaxPeriodSessions {
		n++
	}
	out := &Attendance{Period: n}
	if n == 0 {
		return out, nil
	}
	out.Sessions = all[:min(len(all), n+Later)]
	if out.Counts, err = s.counts(ctx, out.Sessions); err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	if out.Authors, out.People, err = s.personAuthors(ctx, out.Sessions, nil); err != nil {
		return nil, fmt.Errorf("community %s: %w", community, err)
	}
	for i := range out.Sessions {
		id := out.Sessions[i].ID
		c := out.Counts[id].withPeople(out.Authors[id])
		out.Counts[id] = c
		out.Sessions[i].Posts, out.Sessions[i].Participants = c.Posts, c.Participants
	}
	return out, nil
}

// SessionParams binds, for queries over the posts of sessions (all of one community),
// {community}, {from} and {to} (their time window), {cells} (their stored ids) and
// {owners} (the session each cell belongs to, same order).
func SessionParams(list []Session) map[string]string { return sessionParams(list) }
