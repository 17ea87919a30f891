package api

import (
	"net/http"
	"time"

	"github.com/chatnight/chatnight/pipeline/community"
	"github.com/chatnight/chatnight/web/readmodel"
)

// Community is a community as /api/communities lists it.
type Community struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Hashtags  []string           `json:"hashtags"`
	Schedule  []Slot             `json:"schedule"`
	Hosts     []string           `json:"hosts"`
	Current   *readmodel.Session `json:"current"`
	Latest    *readmodel.Session `json:"latest"`
	NextStart *time.Time         `json:"next_start"`
}

// Slot is a weekly meeting time, in the slot's own time zone.
type Slot struct {
	Weekday         string `json:"weekday"`
	Start           string `json:"start"`
	Timezone        string `json:"timezone"`
	DurationMinutes int    `json:"duration_minutes"`
}

func (a *API) communityOf(cm *community.Community, latest map[string]readmodel.Session, now time.Time) Community {
	var lp *readmodel.Session
	if l, ok := latest[cm.ID]; ok {
		lp = &l
	}
	st := readmodel.StatusOf(cm, lp, now)
	out := Community{ID: cm.ID, Name: cm.Name, Hashtags: cm.Hashtags, Schedule: []Slot{}, Hosts: []string{},
		Current: st.Current, Latest: st.Latest, NextStart: st.NextStart}
	for _, s := range cm.Schedule {
		out.Schedule = append(out.Schedule, Slot{Weekday: s.Day().String(), Start: s.Start, Timezone: s.Timezone,
			DurationMinutes: int(s.Duration / time.Minute)})
	}
	for _, hs := range cm.Hosts {
		out.Hosts = append(out.Hosts, hs...)
	}
	return out
}

// handleCommunities answers GET /api/communities: every community with its schedule,
// current session (null when none) and next scheduled start.
func (a *API) handleCommunities(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := a.ctx(r)
	defer cancel()
	now := a.now()
	latest, err := a.store.LatestSessions(ctx, a.communities.IDs(), now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]Community, 0, len(a.communities.Communities))
	for i := range a.communities.Communities {
		out = append(out, a.communityOf(&a.communities.Communities[i], latest, now))
	}
	writeJSON(w, out)
}

// handleCommunity answers GET /api/communities/{id}.
func (a *API) handleCommunity(w http.ResponseWriter, r *http.Request) {
	cm, ok := a.communities.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "unknown community "+quote(r.PathValue("id")))
		return
	}
	ctx, cancel := a.ctx(r)
	defer cancel()
	now := a.now()
	latest, err := a.store.LatestSessions(ctx, []string{cm.ID}, now)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, a.communityOf(cm, latest, now))
}
